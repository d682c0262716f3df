"""Writes on labels.

Imports (`*_import`) load labels in bulk from trusted sources (datasets, phantoms). Interactive writes
(`*_write`, `label_delete`) are versioned: a write names the version of the label it was based on (0 or
None: no label yet). If the label changed since, or a concurrent save created it meanwhile, nothing is
written and LabelConflict carries the current state (the API answers 409); a write that names no version
of a label that already existed is LabelVersionRequired (428), not a silent overwrite.
Bulk writes are all or nothing, every change is recorded in LabelChange, and nobody writes another
person's label: every function writes the labels of `user` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, InvalidInput, PreconditionRequired
from ml.geometry import polygon_problems
from ml.scores import MAX_SCORE, is_score
from studies.models import Frame, Video

from . import score_writes
from .models import (
    Contour,
    Finding,
    FrameScore,
    LabelAction,
    LabelChange,
    LabelSource,
    SegmentationClass,
    VideoFinding,
    VideoScore,
)
from .score_writes import FrameScoreRow, score_value
from .signals import scores_changed

BATCH = 2000
BIGINT = 2**63  # ids at or above it are no row's (and would not fit the statement's arrays)


def _valid_score(score: int) -> int:
    if not 0 <= int(score) <= 3:
        raise ValueError(f"score {score} is outside the 0–3 scale")
    return int(score)


@transaction.atomic
def frame_scores_import(*, annotator: User, scores: Mapping[int, int], source: str = LabelSource.HUMAN) -> int:
    """Set `annotator`'s score of each frame id (insert or overwrite their own row only)."""
    rows = [FrameScore(frame_id=frame_id, annotator=annotator, score=_valid_score(score),
                       validation_level=annotator.validation_level, source=source)
            for frame_id, score in scores.items()]
    FrameScore.objects.bulk_create(rows, batch_size=BATCH, update_conflicts=True,
                                   unique_fields=["frame", "annotator"],
                                   update_fields=["score", "validation_level", "source", "updated_at"])
    return len(rows)


def video_score_import(*, annotator: User, video_id: int, score: int, source: str = LabelSource.HUMAN,
                    comment: str = "") -> VideoScore:
    row, _ = VideoScore.objects.update_or_create(
        video_id=video_id, annotator=annotator,
        defaults={"score": _valid_score(score), "validation_level": annotator.validation_level,
                  "source": source, "comment": comment},
    )
    return row


@transaction.atomic
def contours_import(*, annotator: User, contours: Iterable[tuple[int, int, Sequence[Sequence[float]]]],
                    source: str = LabelSource.HUMAN) -> int:
    """Add polygons given as (frame id, segmentation class index, [[x, y], ...])."""
    classes = {c.index: c for c in SegmentationClass.objects.all()}
    rows = []
    for frame_id, class_index, vertices in contours:
        if class_index not in classes:
            raise ValueError(f"unknown segmentation class {class_index}")
        if len(vertices) < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {len(vertices)}")
        rows.append(Contour(frame_id=frame_id, annotator=annotator, segmentation_class=classes[class_index],
                            vertices=[[round(float(x), 2), round(float(y), 2)] for x, y in vertices],
                            validation_level=annotator.validation_level, source=source))
    Contour.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


@transaction.atomic
def video_findings_import(*, annotator: User, video_id: int, findings: Mapping[str, bool],
                          source: str = LabelSource.HUMAN, replace: bool = False) -> int:
    """Set `annotator`'s findings of a video ({finding code: present}); with `replace`, their other
    findings of the video are removed (a re-import then leaves exactly what the source says)."""
    vocabulary = dict(Finding.objects.filter(code__in=list(findings)).values_list("code", "id"))
    unknown = sorted(set(findings) - set(vocabulary))
    if unknown:
        raise ValueError(f"unknown finding(s): {', '.join(unknown)}")
    if replace:
        VideoFinding.objects.filter(video_id=video_id, annotator=annotator).exclude(
            finding_id__in=list(vocabulary.values())).delete()
    rows = [VideoFinding(video_id=video_id, annotator=annotator, finding_id=vocabulary[code], present=bool(present),
                         validation_level=annotator.validation_level, source=source)
            for code, present in findings.items()]
    VideoFinding.objects.bulk_create(rows, update_conflicts=True, unique_fields=["video", "annotator", "finding"],
                                     update_fields=["present", "validation_level", "source", "updated_at"])
    return len(rows)


def _scores_changed(sender: type = FrameScore) -> None:
    """Tell the apps above (agreement reports go stale); see annotations.signals."""
    scores_changed.send(sender=sender)


class LabelConflict(Conflict):
    """The label changed since the version the write was based on; `current` is its state now."""

    def __init__(self, current: list[dict[str, Any]]) -> None:
        super().__init__("the label was changed meanwhile; reload and merge", current=current)


class LabelVersionRequired(PreconditionRequired):
    """The write names no version of a label that exists: it would overwrite it unseen; `current` is its state."""

    def __init__(self, current: list[dict[str, Any]]) -> None:
        super().__init__("the label exists: send the version your change is based on (0 for a new label)",
                         current=current)


class LabelValidationError(InvalidInput):
    """Field-level problems: {field path: [messages]}; nothing was written."""

    errors: dict[str, list[str]]  # always given (ApplicationError's may be None)

    def __init__(self, errors: dict[str, list[str]], *, detail: str = "invalid labels; nothing was written") -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()), errors=errors, detail=detail)


def finding_value(label: VideoFinding, code: str) -> dict[str, Any]:
    return {"id": label.pk, "finding": code, "present": label.present, "version": label.version,
            "validation_level": label.validation_level, "updated_at": label.updated_at.isoformat()}


def contour_value(label: Contour) -> dict[str, Any]:
    return {"id": label.pk, "segmentation_class": label.segmentation_class.index, "vertices": label.vertices,
            "version": label.version, "updated_at": label.updated_at.isoformat()}


def _change(label_type: str, label: Any, *, video_id: int, frame_id: int | None, user: User, action: str,
            old: dict | None, new: dict | None) -> LabelChange:
    return LabelChange(label_type=label_type, label_id=label.pk, frame_id=frame_id, video_id=video_id,
                       owner_id=label.annotator_id, changed_by=user, action=action,
                       version=label.version, old_value=old, new_value=new)


def _check_score(score: object, field: str, errors: dict[str, list[str]]) -> None:
    if not is_score(score):
        errors.setdefault(field, []).append(f"score must be an integer 0–{MAX_SCORE}, got {score!r}")


def _lock_labels(scope: str, *ids: int) -> None:
    """Serialise one person's writes on one video or frame until the transaction ends.

    Row locks cannot do this while the rows do not exist yet: two first saves both find nothing and
    both insert (an IntegrityError, or duplicate contours). A PostgreSQL advisory lock on the pair does;
    SQLite (the embedded demo) serialises writers anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [score_writes.advisory_key(scope, *ids)])


@transaction.atomic
def frame_scores_write(*, user: User, video: Video, items: Sequence[dict[str, Any]],
                       source: str = LabelSource.HUMAN, overwrite: bool = False) -> list[FrameScoreRow]:
    """Set `user`'s scores of many frames of one video: items {frame, score, version}.

    `version` is that of the user's label the change is based on: 0 or None when they have none. A label
    that exists needs its version (LabelVersionRequired, 428, when it is None, unless `overwrite`: the
    importers' unconditional write); a stale one, or a label created meanwhile by a concurrent save, is a
    LabelConflict (409). All or nothing: a frame of another video, a bad score, one conflict writes
    nothing. Set-based on PostgreSQL (score_writes), the ORM on SQLite; history rows either way.
    """
    errors: dict[str, list[str]] = {}
    frame_ids = [item.get("frame") for item in items]
    if len(set(frame_ids)) != len(frame_ids):
        errors.setdefault("items", []).append("a frame appears twice")
    candidates = [f for f in frame_ids if type(f) is int and 0 < f < BIGINT]
    postgres = connection.vendor == "postgresql"
    # On PostgreSQL this read takes the user's lock on the video (_lock_labels' "frame_scores"), so
    # a concurrent save of theirs waits here and then finds its inserts taken or versions moved (409).
    states = (score_writes.frame_score_states(video_id=video.pk, user_id=user.pk, frame_ids=candidates, lock=True)
              if postgres else score_writes.frame_score_states_orm(video, user, candidates))
    for position, item in enumerate(items):
        if item.get("frame") not in states:
            errors.setdefault(f"items[{position}].frame", []).append(
                f"frame {item.get('frame')!r} is not a frame of video {video.pk}")
        _check_score(item.get("score"), f"items[{position}].score", errors)
    if errors:
        raise LabelValidationError(errors)

    level = user.validation_level
    conflicts: list[dict[str, Any]] = []
    required: list[dict[str, Any]] = []
    updates: list[tuple[int, int, int]] = []  # (label id, its version, new score)
    inserts: list[tuple[int, int]] = []  # (frame id, score)
    targets: list[int] = []  # the frames of both
    for item in items:
        frame, score, base = item["frame"], item["score"], item.get("version")
        row = states[frame]
        if row is None:
            if base:
                conflicts.append({"frame": frame, "current": None})
            else:
                inserts.append((frame, score))
                targets.append(frame)
        elif base is None and not overwrite:
            required.append({"frame": frame, "current": score_value(row)})
        elif base is not None and base != row.version:
            conflicts.append({"frame": frame, "current": score_value(row)})
        elif row.score != score or row.validation_level != level:
            updates.append((row.pk, row.version, score))
            targets.append(frame)
    if conflicts:
        raise LabelConflict(conflicts)
    if required:
        raise LabelVersionRequired(required)
    if not targets:
        return [states[item["frame"]] for item in items]  # type: ignore[misc]  # every one exists (checked)

    now = timezone.now()
    apply = score_writes.frame_scores_apply if postgres else score_writes.frame_scores_apply_orm
    written = apply(video=video, user=user, source=source, now=now, updates=updates, inserts=inserts, states=states)
    if len(written) != len(targets):  # changed or created meanwhile: report it, nothing written
        done = {row.frame_id for row in written}
        lost = [frame for frame in targets if frame not in done]
        now_states = (score_writes.frame_score_states(video_id=video.pk, user_id=user.pk, frame_ids=lost) if postgres
                      else score_writes.frame_score_states_orm(video, user, lost))
        raise LabelConflict([{"frame": frame, "current": score_value(row) if (row := now_states.get(frame)) else None}
                             for frame in lost])
    _scores_changed()
    result = {**states, **{row.frame_id: row for row in written}}
    return [result[item["frame"]] for item in items]  # type: ignore[misc]


@transaction.atomic
def video_score_write(*, user: User, video: Video, score: int, version: int | None = None, comment: str = "",
                      source: str = LabelSource.HUMAN, overwrite: bool = False) -> VideoScore:
    """Set `user`'s score of a video, based on `version` of their label (0 or None: none yet); versions
    as in frame_scores_write (428 without one for a label that exists, 409 when stale or created meanwhile)."""
    errors: dict[str, list[str]] = {}
    _check_score(score, "score", errors)
    if errors:
        raise LabelValidationError(errors)
    mine = VideoScore.objects.filter(video=video, annotator=user)
    existed = mine.exists()  # before waiting for a concurrent save: what this request was made against
    _lock_labels("video_score", video.pk, user.pk)
    row = mine.select_for_update().first()
    current = [{"video": video.pk, "current": score_value(row) if row else None}]
    if row is not None and version is None and not overwrite:
        raise LabelVersionRequired(current) if existed else LabelConflict(current)
    if (row is not None and version is not None and version != row.version) or (row is None and version):
        raise LabelConflict(current)
    if row is None:
        row = VideoScore.objects.create(video=video, annotator=user, score=score, comment=comment, source=source,
                                        validation_level=user.validation_level)
        LabelChange.objects.create(label_type="video_score", label_id=row.pk, video=video, owner=user,
                                   changed_by=user, action=LabelAction.CREATE, version=1, new_value=score_value(row))
        _scores_changed()
        return row
    old = score_value(row)
    row.score, row.comment, row.validation_level, row.version = score, comment, user.validation_level, row.version + 1
    row.save(update_fields=["score", "comment", "validation_level", "version", "updated_at"])
    LabelChange.objects.create(label_type="video_score", label_id=row.pk, video=video, owner=user, changed_by=user,
                               action=LabelAction.UPDATE, version=row.version, old_value=old,
                               new_value=score_value(row))
    _scores_changed()
    return row


@transaction.atomic
def video_findings_write(*, user: User, video: Video, items: Sequence[dict[str, Any]],
                         source: str = LabelSource.HUMAN, overwrite: bool = False) -> list[VideoFinding]:
    """Set `user`'s findings of one video: items {finding (code), present (bool), version (0 or None = new)}.

    All or nothing: an unknown finding, a finding twice, a present that is not a boolean or one conflict
    writes nothing (versions as in frame_scores_write). Findings left out of `items` stay as they are.
    """
    errors: dict[str, list[str]] = {}
    codes = [item.get("finding") for item in items]
    if len(set(map(str, codes))) != len(codes):
        errors.setdefault("items", []).append("a finding appears twice")
    vocabulary = {code: pk for code, pk in Finding.objects.filter(
        code__in=[c for c in codes if isinstance(c, str)]).values_list("code", "id")}
    for position, item in enumerate(items):
        if item.get("finding") not in vocabulary:
            errors.setdefault(f"items[{position}].finding", []).append(f"unknown finding {item.get('finding')!r}")
        if not isinstance(item.get("present"), bool):
            errors.setdefault(f"items[{position}].present", []).append(
                f"present must be true or false, got {item.get('present')!r}")
    if errors:
        raise LabelValidationError(errors)
    mine = VideoFinding.objects.filter(video=video, annotator=user, finding_id__in=vocabulary.values())
    existed = set(mine.values_list("finding_id", flat=True))  # before waiting for a concurrent save
    _lock_labels("video_findings", video.pk, user.pk)
    existing = {row.finding_id: row for row in mine.select_for_update()}
    conflicts: list[dict[str, Any]] = []
    required: list[dict[str, Any]] = []
    for item in items:
        row, base = existing.get(vocabulary[item["finding"]]), item.get("version")
        state = {"video": video.pk, "finding": item["finding"],
                 "current": finding_value(row, item["finding"]) if row else None}
        if row is not None and base is None and not overwrite:
            (required if row.finding_id in existed else conflicts).append(state)
        elif (row is not None and base is not None and base != row.version) or (row is None and base):
            conflicts.append(state)
    if conflicts:
        raise LabelConflict(conflicts)
    if required:
        raise LabelVersionRequired(required)

    result, history = [], []
    for item in items:
        code, row = item["finding"], existing.get(vocabulary[item["finding"]])
        if row is None:
            row = VideoFinding.objects.create(video=video, annotator=user, finding_id=vocabulary[code],
                                              present=item["present"], validation_level=user.validation_level,
                                              source=source)
            history.append(_change("video_finding", row, video_id=video.pk, frame_id=None, user=user,
                                   action=LabelAction.CREATE, old=None, new=finding_value(row, code)))
        elif row.present != item["present"] or row.validation_level != user.validation_level:
            old = finding_value(row, code)
            row.present, row.validation_level, row.version = item["present"], user.validation_level, row.version + 1
            row.save(update_fields=["present", "validation_level", "version", "updated_at"])
            history.append(_change("video_finding", row, video_id=video.pk, frame_id=None, user=user,
                                   action=LabelAction.UPDATE, old=old, new=finding_value(row, code)))
        result.append(row)
    LabelChange.objects.bulk_create(history)
    if history:
        _scores_changed(VideoFinding)
    return result


def finding_create(*, code: str, name: str, description: str = "", order: int = 0) -> Finding:
    """Add a finding to the vocabulary (code and name unique: InvalidInput otherwise)."""
    clashes = Finding.objects.filter(code=code).exists(), Finding.objects.filter(name=name).exists()
    if any(clashes):
        raise InvalidInput("a finding with this code or name exists",
                           errors={field: ["already used by another finding"]
                                   for field, clash in zip(("code", "name"), clashes, strict=True) if clash})
    return Finding.objects.create(code=code, name=name, description=description, order=order)


def finding_update(*, finding: Finding, name: str | None = None, description: str | None = None,
                   order: int | None = None) -> Finding:
    """Rename, describe or reorder a finding; its code never changes (exports and training read it)."""
    if name is not None and Finding.objects.filter(name=name).exclude(pk=finding.pk).exists():
        raise InvalidInput("a finding with this name exists", errors={"name": ["already used by another finding"]})
    for field, value in (("name", name), ("description", description), ("order", order)):
        if value is not None:
            setattr(finding, field, value)
    finding.save()
    return finding


@transaction.atomic
def finding_delete(*, finding: Finding) -> None:
    """Remove a finding from the vocabulary; refused (Conflict) while labels use it."""
    if VideoFinding.objects.filter(finding=finding).exists():
        raise Conflict(f"the finding {finding.code!r} is used by labels; it cannot be deleted")
    finding.delete()


@transaction.atomic
def label_delete(*, user: User, label: FrameScore | VideoScore | Contour, version: int | None) -> None:
    """Delete one of `user`'s own labels, based on its `version` (None: LabelVersionRequired; stale:
    LabelConflict); the deletion is recorded."""
    if label.annotator_id != user.pk:
        raise PermissionError("labels are deleted only by their author")
    model = type(label)
    current = model.objects.select_for_update().filter(pk=label.pk).first()
    if current is None:
        raise LabelConflict([{"id": label.pk, "current": None}])
    value = contour_value(current) if isinstance(current, Contour) else score_value(current)
    if version is None:
        raise LabelVersionRequired([{"id": label.pk, "current": value}])
    if version != current.version:
        raise LabelConflict([{"id": label.pk, "current": value}])
    label_type = {FrameScore: "frame_score", VideoScore: "video_score", Contour: "contour"}[model]
    frame_id: int | None
    if isinstance(current, VideoScore):
        frame_id, video_id = None, current.video_id
    else:
        frame_id, video_id = current.frame_id, Frame.objects.get(pk=current.frame_id).video_id
    LabelChange.objects.create(label_type=label_type, label_id=current.pk, frame_id=frame_id, video_id=video_id,
                               owner_id=current.annotator_id, changed_by=user, action=LabelAction.DELETE,
                               version=current.version, old_value=value)
    current.delete()
    if model is not Contour:
        _scores_changed()


@transaction.atomic
def frame_contours_write(*, user: User, frame: Frame, contours: Sequence[dict[str, Any]],
                         base: Sequence[dict[str, int]], source: str = LabelSource.HUMAN) -> list[Contour]:
    """Replace `user`'s contours of one frame with `contours` ({id?, segmentation_class, vertices}).

    `base` lists the {id, version} of the user's contours the edit started from; if the stored set
    differs, nothing is written (LabelConflict). Contours with an id are updated, others created,
    stored ones left out are deleted. Polygons must have ≥ 3 vertices, lie inside the image and not
    cross themselves.
    """
    classes = {c.index: c for c in SegmentationClass.objects.all()}
    errors: dict[str, list[str]] = {}
    for position, item in enumerate(contours):
        if item.get("segmentation_class") not in classes or item.get("segmentation_class") == 0:
            errors.setdefault(f"contours[{position}].segmentation_class", []).append(
                f"unknown marker class {item.get('segmentation_class')!r}; expected one of 1–{max(classes)}")
        problems = polygon_problems(item.get("vertices"), width=frame.video.width, height=frame.video.height)
        if problems:
            errors.setdefault(f"contours[{position}].vertices", []).extend(problems)
    _lock_labels("contours", frame.pk, user.pk)
    current = {c.pk: c for c in Contour.objects.select_for_update().select_related("segmentation_class")
               .filter(frame=frame, annotator=user)}
    for position, item in enumerate(contours):
        if item.get("id") is not None and item["id"] not in current:
            errors.setdefault(f"contours[{position}].id", []).append(f"contour {item['id']} is not yours on this frame")
    if errors:
        raise LabelValidationError(errors)
    if {(b.get("id"), b.get("version")) for b in base} != {(c.pk, c.version) for c in current.values()}:
        raise LabelConflict([contour_value(c) for c in current.values()])

    video_id = frame.video_id
    keep = {item["id"] for item in contours if item.get("id") is not None}
    history, result = [], []
    for contour in current.values():
        if contour.pk not in keep:
            history.append(_change("contour", contour, video_id=video_id, frame_id=frame.pk, user=user,
                                   action=LabelAction.DELETE, old=contour_value(contour), new=None))
    Contour.objects.filter(pk__in=set(current) - keep).delete()
    for item in contours:
        vertices = [[round(float(x), 2), round(float(y), 2)] for x, y in item["vertices"]]
        if item.get("id") is not None:
            contour = current[item["id"]]
            if contour.vertices != vertices or contour.segmentation_class.index != item["segmentation_class"]:
                old = contour_value(contour)
                contour.vertices, contour.segmentation_class = vertices, classes[item["segmentation_class"]]
                contour.version += 1
                contour.validation_level = user.validation_level
                contour.save()
                history.append(_change("contour", contour, video_id=video_id, frame_id=frame.pk, user=user,
                                       action=LabelAction.UPDATE, old=old, new=contour_value(contour)))
        else:
            contour = Contour.objects.create(frame=frame, annotator=user, vertices=vertices, source=source,
                                             segmentation_class=classes[item["segmentation_class"]],
                                             validation_level=user.validation_level)
            history.append(_change("contour", contour, video_id=video_id, frame_id=frame.pk, user=user,
                                   action=LabelAction.CREATE, old=None, new=contour_value(contour)))
        result.append(contour)
    LabelChange.objects.bulk_create(history)
    return result
