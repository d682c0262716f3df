"""Writes on contour tracks: keyframes, interpolation, optical-flow propagation, accepting proposals.

A track's keyframes are contours the annotator drew, edited or accepted (origin manual, or propagated /
model once accepted); the frames strictly between two keyframes hold interpolated contours (origin
interpolated, rewritten whenever a neighbouring keyframe changes, never by hand: an edit makes the frame a
keyframe). Propagated and model polygons are proposals (is_proposal) until accepted (they become keyframes)
or discarded (deleted). `Track.gaps` lists the frames from which the marker is absent until the next
keyframe (it left the view), so nothing is interpolated across a gap.

Keyframe writes are versioned like every label write (annotations.services): the version of the contour
on that frame the change is based on (0: none), LabelConflict when stale. Interpolated rows are derived
data and not recorded in LabelChange; keyframe changes, accepts and discards are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np
from django.core.files.storage import default_storage
from django.db import connection, transaction

from accounts.models import User
from core.errors import InvalidInput, NotFound
from ml.geometry import polygon_problems
from ml.tracks import interpolate_track, propagate_polygon
from studies.models import Frame, Video

from . import score_writes
from .models import Contour, ContourOrigin, LabelAction, LabelChange, LabelSource, SegmentationClass, Track
from .services import (
    LabelConflict,
    LabelValidationError,
    LabelVersionRequired,
    contour_value,
    frame_contours_write,
)

MAX_PROPAGATE = 100  # frames per propagation request: the flow costs ~10 ms a frame pair


def _lock(track: Track) -> None:
    """One writer per track at a time (see services: advisory locks also cover rows not yet there)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [score_writes.advisory_key("track", track.pk)])


def _rounded(vertices: Iterable[Sequence[float]]) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2)] for x, y in vertices]


def _check_polygon(vertices: Any, video: Video, field: str = "vertices") -> list[list[float]]:
    problems = polygon_problems(vertices, width=video.width, height=video.height)
    if problems:
        raise LabelValidationError({field: problems})
    return _rounded(vertices)


def _frames_by_index(video: Video, indices: Iterable[int]) -> dict[int, Frame]:
    return {f.index: f for f in Frame.objects.filter(video=video, index__in=list(indices))}


def _history(contour: Contour, *, video_id: int, frame_id: int, user: User, action: str,
             old: dict | None, new: dict | None) -> LabelChange:
    return LabelChange(label_type="contour", label_id=contour.pk, frame_id=frame_id, video_id=video_id,
                       owner_id=contour.annotator_id, changed_by=user, action=action, version=contour.version,
                       old_value=old, new_value=new)


def _own(user: User, track: Track) -> None:
    """Nobody writes another person's track (their labels stay theirs, services' rule)."""
    if track.annotator_id != user.pk:
        raise NotFound("track not found")


def track_contours(track: Track) -> dict[int, Contour]:
    """frame index -> the track's contour there (one per frame)."""
    rows = Contour.objects.filter(track=track).select_related("frame", "segmentation_class")
    return {c.frame.index: c for c in rows}


def reinterpolate(track: Track, *, lo: int | None = None, hi: int | None = None) -> int:
    """Rewrite the interpolated contours of `track` between frames lo and hi (inclusive; None: the whole
    track) from its keyframes and gaps, in two statements; frames with a keyframe or a proposal are kept.
    Returns the number of interpolated rows written."""
    rows = track_contours(track)
    keyframes: dict[int, Any] = {i: c.vertices for i, c in rows.items() if c.is_keyframe}
    for gap in track.gaps:
        if gap not in keyframes:
            keyframes[int(gap)] = None
    shapes = interpolate_track(keyframes) if keyframes else {}
    lo = -1 if lo is None else lo
    hi = 2**31 if hi is None else hi
    stale = [c.pk for i, c in rows.items() if lo <= i <= hi and c.origin == ContourOrigin.INTERPOLATED
             and not c.is_keyframe and not c.is_proposal]
    Contour.objects.filter(pk__in=stale).delete()
    taken = {i for i, c in rows.items() if c.is_keyframe or c.is_proposal}
    wanted = sorted(i for i in shapes if lo <= i <= hi and i not in taken)
    frames = _frames_by_index(track.video, wanted)
    level = track.annotator.validation_level
    Contour.objects.bulk_create([
        Contour(frame=frames[i], annotator_id=track.annotator_id, segmentation_class_id=track.segmentation_class_id,
                vertices=_rounded(shapes[i]), validation_level=level, source=LabelSource.HUMAN, track=track,
                origin=ContourOrigin.INTERPOLATED) for i in wanted if i in frames], batch_size=2000)
    return len(wanted)


def _span(rows: dict[int, Contour], gaps: Iterable[int], index: int) -> tuple[int, int]:
    """The frames whose interpolation depends on a change at `index`: from the keyframe (or gap) before
    it to the one after it."""
    marks = sorted({i for i, c in rows.items() if c.is_keyframe and i != index} | set(gaps))
    before = [i for i in marks if i < index]
    after = [i for i in marks if i > index]
    return (before[-1] if before else 0), (after[0] if after else 2**31)


@transaction.atomic
def track_create(*, user: User, video: Video, segmentation_class: int, frame_index: int | None = None,
                 vertices: Any = None, contour_id: int | None = None) -> Track:
    """Start a track from one of the user's contours (it becomes the first keyframe) or from a polygon
    drawn on frame `frame_index`."""
    if contour_id is not None:
        contour = (Contour.objects.select_related("frame", "segmentation_class")
                   .filter(pk=contour_id, annotator=user, frame__video=video).first())
        if contour is None:
            raise LabelValidationError({"contour": [f"contour {contour_id} is not yours on video {video.pk}"]})
        if contour.track_id is not None:
            raise LabelValidationError({"contour": [f"contour {contour_id} already belongs to track {contour.track_id}"]})
        track = Track.objects.create(video=video, annotator=user, segmentation_class=contour.segmentation_class)
        contour.track, contour.is_keyframe = track, True
        contour.save(update_fields=["track", "is_keyframe", "updated_at"])
        return track
    cls = SegmentationClass.objects.filter(index=segmentation_class).exclude(index=0).first()
    if cls is None:
        raise LabelValidationError({"segmentation_class": [f"unknown marker class {segmentation_class!r}"]})
    frame = Frame.objects.filter(video=video, index=frame_index).first() if frame_index is not None else None
    if frame is None:
        raise LabelValidationError({"frame_index": [f"video {video.pk} has no frame {frame_index!r}"]})
    polygon = _check_polygon(vertices, video)
    track = Track.objects.create(video=video, annotator=user, segmentation_class=cls)
    contour = Contour.objects.create(frame=frame, annotator=user, segmentation_class=cls, vertices=polygon,
                                     validation_level=user.validation_level, track=track, is_keyframe=True)
    LabelChange.objects.create(label_type="contour", label_id=contour.pk, frame=frame, video=video, owner=user,
                               changed_by=user, action=LabelAction.CREATE, version=1, new_value=contour_value(contour))
    return track


def _current_version(contour: Contour | None, version: int | None) -> None:
    if contour is None:
        if version:
            raise LabelConflict([])
        return
    if version is None:
        raise LabelVersionRequired([contour_value(contour)])
    if version != contour.version:
        raise LabelConflict([contour_value(contour)])


@transaction.atomic
def keyframe_set(*, user: User, track: Track, frame_index: int, vertices: Any = None,
                 version: int | None = None, contour_id: int | None = None) -> Contour:
    """Make frame `frame_index` a keyframe of `track`: with `vertices` its polygon becomes them (an edit:
    origin manual), without them the polygon shown there (interpolated or proposed) is kept as it is; with
    `contour_id`, one of the user's own contours on that frame outside any track joins the track in place
    of whatever the track had there. The frames between its neighbouring keyframes are re-interpolated; a
    gap starting there is removed."""
    _own(user, track)
    _lock(track)
    if contour_id is not None:
        joining = Contour.objects.filter(pk=contour_id, annotator=user, frame__video=track.video_id,
                                         frame__index=frame_index, track__isnull=True, is_proposal=False,
                                         segmentation_class_id=track.segmentation_class_id).first()
        if joining is None:
            raise LabelValidationError({"contour": [f"contour {contour_id} is not yours on frame {frame_index}, "
                                                    "is of another marker class or already belongs to a track"]})
        Contour.objects.filter(track=track, frame__index=frame_index).delete()
        joining.track, joining.is_keyframe = track, True
        joining.save(update_fields=["track", "is_keyframe", "updated_at"])
        rows = track_contours(track)
        lo, hi = _span(rows, track.gaps, frame_index)
        reinterpolate(track, lo=lo, hi=hi)
        return joining
    rows = track_contours(track)
    current = rows.get(frame_index)
    _current_version(current, version)
    if vertices is None and current is None:
        raise LabelValidationError({"vertices": ["no polygon on this frame: draw one (send vertices)"]})
    frame = current.frame if current is not None else Frame.objects.filter(video=track.video_id,
                                                                             index=frame_index).first()
    if frame is None:
        raise LabelValidationError({"frame_index": [f"video {track.video_id} has no frame {frame_index}"]})
    polygon = _check_polygon(vertices, track.video) if vertices is not None else None
    if current is None:
        assert polygon is not None
        contour = Contour.objects.create(frame=frame, annotator=user, segmentation_class_id=track.segmentation_class_id,
                                         vertices=polygon, validation_level=user.validation_level, track=track,
                                         is_keyframe=True)
        history = _history(contour, video_id=track.video_id, frame_id=frame.pk, user=user,
                           action=LabelAction.CREATE, old=None, new=contour_value(contour))
    else:
        old = contour_value(current)
        contour = current
        if polygon is not None and polygon != contour.vertices:
            contour.vertices, contour.origin, contour.source = polygon, ContourOrigin.MANUAL, LabelSource.HUMAN
        elif contour.origin == ContourOrigin.INTERPOLATED:
            contour.origin = ContourOrigin.MANUAL  # the annotator vouches for it as shown
        contour.is_keyframe, contour.is_proposal = True, False
        contour.version += 1
        contour.validation_level = user.validation_level
        contour.save()
        history = _history(contour, video_id=track.video_id, frame_id=frame.pk, user=user,
                           action=LabelAction.UPDATE, old=old, new=contour_value(contour))
    LabelChange.objects.bulk_create([history])
    if frame_index in track.gaps:
        track.gaps = [g for g in track.gaps if g != frame_index]
    track.save()
    rows[frame_index] = contour
    lo, hi = _span(rows, track.gaps, frame_index)
    reinterpolate(track, lo=lo, hi=hi)
    return contour


@transaction.atomic
def keyframe_unset(*, user: User, track: Track, frame_index: int, version: int | None) -> None:
    """Frame `frame_index` is no keyframe any more: its contour goes, and the frame is interpolated again
    when keyframes lie on both sides of it (otherwise the track now ends or starts elsewhere)."""
    _own(user, track)
    _lock(track)
    rows = track_contours(track)
    current = rows.get(frame_index)
    if current is None or not current.is_keyframe:
        raise LabelValidationError({"frame_index": [f"frame {frame_index} is no keyframe of track {track.pk}"]})
    _current_version(current, version)
    LabelChange.objects.create(label_type="contour", label_id=current.pk, frame_id=current.frame_id,
                               video_id=track.video_id, owner=user, changed_by=user, action=LabelAction.DELETE,
                               version=current.version, old_value=contour_value(current))
    current.delete()
    del rows[frame_index]
    lo, hi = _span(rows, track.gaps, frame_index)
    reinterpolate(track, lo=lo, hi=hi)
    if not Contour.objects.filter(track=track).exists():
        track.delete()


@transaction.atomic
def gap_set(*, user: User, track: Track, frame_index: int, absent: bool) -> Track:
    """The marker is absent from `frame_index` until the next keyframe (absent=True), or no longer."""
    _own(user, track)
    _lock(track)
    gaps = set(track.gaps)
    if absent:
        gaps.add(int(frame_index))
        # the frames it covers lose their interpolated contour, a keyframe on it goes (it is absent there)
        Contour.objects.filter(track=track, frame__index=frame_index).delete()
    else:
        gaps.discard(int(frame_index))
    track.gaps = sorted(gaps)
    track.save()
    reinterpolate(track)
    return track


class FrameImages(Sequence):
    """The frames of a video, read from storage as greyscale only when propagation reaches them."""

    def __init__(self, video: Video, start: int, count: int) -> None:
        self.names = dict(Frame.objects.filter(video=video, index__gte=start, index__lt=start + count)
                          .values_list("index", "image"))
        self.start, self.length = start, max(self.names, default=start - 1) + 1

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        with default_storage.open(self.names[index], "rb") as handle:
            image = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise InvalidInput(f"frame {index} of the video cannot be decoded")
        return image


@transaction.atomic
def propagate(*, user: User, track: Track, frame_index: int, n_frames: int) -> dict[str, Any]:
    """Move the track's polygon on `frame_index` along the next `n_frames` frames by dense optical flow
    (ml.tracks.propagate_polygon), stopping before the next keyframe or where the flow is unreliable. Each
    frame reached gets a proposal (origin propagated) in place of an interpolated contour or an earlier
    proposal. Returns {"frames": [indices], "reliability": {index: share}, "stop_reason", "stopped_at"}."""
    _own(user, track)
    if not 1 <= n_frames <= MAX_PROPAGATE:
        raise LabelValidationError({"n_frames": [f"n_frames must be 1–{MAX_PROPAGATE}"]})
    _lock(track)
    rows = track_contours(track)
    source = rows.get(frame_index)
    if source is None:
        raise LabelValidationError({"frame_index": [f"track {track.pk} has no polygon on frame {frame_index}"]})
    later = [i for i, c in rows.items() if i > frame_index and c.is_keyframe] + [g for g in track.gaps if g > frame_index]
    n = min([n_frames] + [i - frame_index - 1 for i in later])
    if n < 1:
        return {"frames": [], "reliability": {}, "stop_reason": "done", "stopped_at": None}
    images = FrameImages(track.video, 0, frame_index + n + 1)
    result = propagate_polygon(images, np.asarray(source.vertices), start=frame_index, n_frames=n)
    reached = sorted(result.polygons)
    Contour.objects.filter(track=track, frame__index__in=reached, is_keyframe=False).delete()
    frames = _frames_by_index(track.video, reached)
    Contour.objects.bulk_create([
        Contour(frame=frames[i], annotator=user, segmentation_class_id=track.segmentation_class_id,
                vertices=_rounded(result.polygons[i]), validation_level=user.validation_level, track=track,
                origin=ContourOrigin.PROPAGATED, is_proposal=True) for i in reached])
    return {"frames": reached, "reliability": {int(k): round(v, 3) for k, v in result.reliability.items()},
            "stop_reason": result.stop_reason, "stopped_at": result.stopped_at}


def _proposals(user: User, video: Video, *, track: Track | None, frame_indices: Sequence[int] | None,
               contour_ids: Sequence[int] | None) -> list[Contour]:
    rows = Contour.objects.select_related("frame").filter(annotator=user, frame__video=video, is_proposal=True)
    if track is not None:
        _own(user, track)
        rows = rows.filter(track=track)
    if frame_indices is not None:
        rows = rows.filter(frame__index__in=list(frame_indices))
    if contour_ids is not None:
        rows = rows.filter(pk__in=list(contour_ids))
    return list(rows.select_for_update(of=("self",)))


@transaction.atomic
def proposals_accept(*, user: User, video: Video, track: Track | None = None,
                     frame_indices: Sequence[int] | None = None, contour_ids: Sequence[int] | None = None) -> int:
    """Accept proposals as they are (per frame, per track or by id): they become labels (keyframes of their
    track); their origin and source stay (an accepted unedited model polygon counts as the model's)."""
    rows = _proposals(user, video, track=track, frame_indices=frame_indices, contour_ids=contour_ids)
    for row in rows:
        row.is_proposal, row.is_keyframe = False, row.track_id is not None
        row.version += 1
    Contour.objects.bulk_update(rows, ["is_proposal", "is_keyframe", "version", "updated_at"])
    LabelChange.objects.bulk_create([
        _history(row, video_id=video.pk, frame_id=row.frame_id, user=user, action=LabelAction.CREATE, old=None,
                 new=contour_value(row)) for row in rows])
    for tracked in Track.objects.filter(pk__in={r.track_id for r in rows if r.track_id}):
        reinterpolate(tracked)
    return len(rows)


@transaction.atomic
def proposals_discard(*, user: User, video: Video, track: Track | None = None,
                      frame_indices: Sequence[int] | None = None, contour_ids: Sequence[int] | None = None) -> int:
    """Discard proposals (nothing of them is kept); their frames are interpolated again where keyframes
    lie on both sides."""
    rows = _proposals(user, video, track=track, frame_indices=frame_indices, contour_ids=contour_ids)
    Contour.objects.filter(pk__in=[r.pk for r in rows]).delete()
    for tracked in Track.objects.filter(pk__in={r.track_id for r in rows if r.track_id}):
        reinterpolate(tracked)
    return len(rows)


def tracks_after_frame_save(*, user: User, frame: Frame, before: dict[int, tuple[int, list]]) -> None:
    """After a whole-frame save (services.frame_contours_write): a track contour whose polygon changed is
    now a manual keyframe, one deleted leaves its frame to interpolation; re-interpolate around it.
    `before`: contour id -> (track id, vertices) of the user's track contours on the frame before the save."""
    if not before:
        return
    after = {c.pk: c for c in Contour.objects.filter(pk__in=list(before))}
    edited = [c for pk, c in after.items() if c.vertices != before[pk][1] or c.is_proposal]
    for contour in edited:
        contour.origin, contour.source = ContourOrigin.MANUAL, LabelSource.HUMAN
        contour.is_keyframe, contour.is_proposal = True, False
    Contour.objects.bulk_update(edited, ["origin", "source", "is_keyframe", "is_proposal"])
    for track in Track.objects.select_related("video", "annotator").filter(pk__in={t for t, _ in before.values()}):
        rows = track_contours(track)
        lo, hi = _span(rows, track.gaps, frame.index)
        reinterpolate(track, lo=lo, hi=hi)


@transaction.atomic
def frame_contours_save(*, user: User, frame: Frame, contours: Sequence[dict[str, Any]],
                        base: Sequence[dict[str, int]]) -> list[Contour]:
    """services.frame_contours_write, then the track rules (tracks_after_frame_save) in the same
    transaction: the viewer's whole-frame save of contours that may belong to tracks."""
    before = {pk: (track_id, vertices) for pk, track_id, vertices in Contour.objects.filter(
        frame=frame, annotator=user, track__isnull=False).values_list("id", "track_id", "vertices")}
    saved = frame_contours_write(user=user, frame=frame, contours=contours, base=base)
    tracks_after_frame_save(user=user, frame=frame, before=before)
    for contour in saved:
        if contour.pk in before:
            contour.refresh_from_db()
    return saved


@transaction.atomic
def model_proposals_store(*, user: User, video: Video, model_version_id: int,
                          found: dict[int, list[tuple[int, list[list[float]]]]]) -> int:
    """Store a segmentation model's polygons as `user`'s proposals (origin and source model): `found` is
    {frame index: [(class index, polygon), ...] largest first}. The largest polygon of each class on a
    frame joins that class's track (one new track per class), the others stand alone. Earlier pending
    model proposals of the user on the video are replaced; frames where the user already has an accepted
    contour of the class get none."""
    Contour.objects.filter(annotator=user, frame__video=video, is_proposal=True, origin=ContourOrigin.MODEL).delete()
    Track.objects.filter(video=video, annotator=user, contours__isnull=True).delete()
    classes = dict(SegmentationClass.objects.exclude(index=0).values_list("index", "id"))
    done = set(Contour.objects.filter(annotator=user, frame__video=video, is_proposal=False)
               .values_list("frame__index", "segmentation_class__index"))
    frames = _frames_by_index(video, found)
    tracks: dict[int, Track] = {}
    rows = []
    for index in sorted(found):
        taken: set[int] = set()
        for class_index, polygon in found[index]:
            if class_index not in classes or (index, class_index) in done or index not in frames:
                continue
            track = None
            if class_index not in taken:
                if class_index not in tracks:
                    tracks[class_index] = Track.objects.create(video=video, annotator=user,
                                                               segmentation_class_id=classes[class_index])
                track = tracks[class_index]
                taken.add(class_index)
            rows.append(Contour(frame=frames[index], annotator=user, segmentation_class_id=classes[class_index],
                                vertices=_rounded(polygon), validation_level=user.validation_level,
                                source=LabelSource.MODEL, origin=ContourOrigin.MODEL, is_proposal=True, track=track,
                                model_version_id=model_version_id))
    Contour.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
