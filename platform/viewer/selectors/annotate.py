"""Reads for the viewer's annotate page (role filtering through the domain apps' selectors).

`annotate_view` is everything the page needs to paint its first frame and timeline in one request: the
video, its frames (with their image URLs), my labels with their versions, others' labels where the
project lets this user see them, and the model's output where it is visible. A constant number of
queries whatever the length of the video.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from accounts.models import User
from annotations.models import FrameScore, SegmentationClass, VideoFinding, VideoScore
from annotations.selectors import (
    findings_vocabulary,
    labels_revealed,
    labels_visible_to,
    model_output_visible_to,
    my_contours_of_video,
    preannotations_visible_to,
)
from modelling.models import FramePrediction, SegmentationPrediction, VideoPrediction
from studies.frame_urls import frame_image_url
from studies.models import Frame, Video
from studies.selectors import videos_visible_to

from .contours import contours_of_others


def annotate_video(*, user: User, video_id: int) -> Video | None:
    """The video if `user` may see it (annotators: assigned to them)."""
    return videos_visible_to(user).select_related("exam__patient__site").filter(pk=video_id).first()


def first_frame_url(video: Video) -> str | None:
    """The URL the page will fetch the first frame from (its template preloads it with the page's state)."""
    first = Frame.objects.filter(video=video).order_by("index").values_list("id", "image").first()
    if first is None:
        return None
    return (frame_image_url(first[1]) if first[1] else None) or f"/api/frames/{first[0]}/image/"


def _model_version_of(predictions: QuerySet) -> int | None:
    """The active model's predictions when it scored this video, else the newest model's that did."""
    return predictions.order_by("-model_version__is_active", "-model_version__created_at", "-model_version_id") \
        .values_list("model_version_id", flat=True).first()


def _segmentation_url(pk: int, kind: str, name: str) -> str:
    """Signed like frames (no database round trip), else the modelling API's authenticated image."""
    return frame_image_url(name) or reverse(f"segmentation-{kind}", args=[pk])


def _model_output(video: Video) -> dict[str, Any]:
    frame_predictions = FramePrediction.objects.filter(frame__video=video)
    version = _model_version_of(frame_predictions)
    frames = [
        {"frame": p["frame_id"], "score": p["score"], "probabilities": p["probabilities"],
         "crop_box_1": p["crop_box_1"], "crop_box_2": p["crop_box_2"]}
        for p in frame_predictions.filter(model_version_id=version).values(
            "frame_id", "score", "probabilities", "crop_box_1", "crop_box_2")
    ] if version is not None else []
    video_predictions = VideoPrediction.objects.filter(video=video)
    video_version = _model_version_of(video_predictions)
    video_prediction = (video_predictions.filter(model_version_id=video_version)
                        .values("model_version_id", "score", "probabilities").first()
                        if video_version is not None else None)
    segmentations = SegmentationPrediction.objects.filter(frame__video=video)
    seg_version = _model_version_of(segmentations)
    masks = [
        {"id": s["id"], "frame": s["frame_id"], "mask_url": _segmentation_url(s["id"], "mask", s["mask"]),
         "uncertainty_url": _segmentation_url(s["id"], "uncertainty", s["uncertainty"]) if s["uncertainty"] else None}
        for s in segmentations.filter(model_version_id=seg_version).values("id", "frame_id", "mask", "uncertainty")
    ] if seg_version is not None else []
    return {
        "visible": True,
        "frame_model_version": version,
        "frames": frames,
        "video": None if video_prediction is None else {
            "model_version": video_prediction["model_version_id"], "score": video_prediction["score"],
            "probabilities": video_prediction["probabilities"]},
        "segmentation_model_version": seg_version,
        "segmentations": masks,
    }


def annotate_view(*, user: User, video: Video) -> dict[str, Any]:
    """The annotate page's state of `video` for `user` (see the module docstring)."""
    frames = [{"id": pk, "index": index, "image_url": frame_image_url(name) if name else None}
              for pk, index, name in Frame.objects.filter(video=video).order_by("index")
              .values_list("id", "index", "image")]

    # One query per label kind: the domain's visibility rules always include my own labels, and reveal
    # others' only where this user may see them (blind annotation otherwise).
    revealed = labels_revealed()  # read once for the checks below
    frame_scores = (labels_visible_to(user, FrameScore, revealed=revealed).filter(frame__video=video).order_by("frame_id")
                    .values_list("id", "annotator_id", "frame_id", "score", "version"))
    video_scores = (labels_visible_to(user, VideoScore, revealed=revealed).filter(video=video)
                    .values_list("id", "annotator_id", "score", "version", "comment"))
    video_findings = (labels_visible_to(user, VideoFinding, revealed=revealed).filter(video=video)
                      .values_list("id", "annotator_id", "finding__code", "present", "version"))
    my_scores: list[dict[str, Any]] = []
    my_video_score: dict[str, Any] | None = None
    my_findings: list[dict[str, Any]] = []
    by_annotator: dict[int, dict[str, Any]] = defaultdict(lambda: {"frame_scores": [], "video_score": None,
                                                                   "findings": {}, "contours": []})
    for pk, annotator, frame, score, version in frame_scores:
        if annotator == user.pk:
            my_scores.append({"frame": frame, "id": pk, "score": score, "version": version})
        else:
            by_annotator[annotator]["frame_scores"].append([frame, score])
    for pk, annotator, score, version, comment in video_scores:
        if annotator == user.pk:
            my_video_score = {"id": pk, "score": score, "version": version, "comment": comment}
        else:
            by_annotator[annotator]["video_score"] = score
    for pk, annotator, code, present, version in video_findings:
        if annotator == user.pk:
            my_findings.append({"id": pk, "finding": code, "present": present, "version": version})
        else:
            by_annotator[annotator]["findings"][code] = present
    preannotations = preannotations_visible_to(user, revealed=revealed)
    my_contours, tracks = [], {}
    for pk, frame, cls, vertices, version, track, origin, keyframe, proposal, gaps in my_contours_of_video(
            user, video.pk, preannotations=preannotations).order_by("frame_id", "id").values_list(
            "id", "frame_id", "segmentation_class__index", "vertices", "version", "track_id", "origin", "is_keyframe",
            "is_proposal", "track__gaps"):
        my_contours.append({"id": pk, "frame": frame, "segmentation_class": cls, "vertices": vertices,
                            "version": version, "track": track, "origin": origin, "is_keyframe": keyframe,
                            "is_proposal": proposal})
        if track is not None:  # a track without contours is gone (annotations.tracks deletes it)
            tracks[track] = {"id": track, "segmentation_class": cls, "gaps": gaps}
    my_tracks = [tracks[pk] for pk in sorted(tracks)]

    for annotator, contours in contours_of_others(user=user, video=video, revealed=revealed).items():
        by_annotator[annotator]["contours"] = contours

    people = {u.pk: u for u in User.objects.filter(pk__in=list(by_annotator)).only(
        "id", "username", "validation_level")} if by_annotator else {}
    others = [{"annotator": {"id": pk, "username": people[pk].username,
                             "validation_level": people[pk].validation_level}, **labels}
              for pk, labels in sorted(by_annotator.items(), key=lambda item: people[item[0]].username)]

    classes = [{"index": c.index, "name": c.display_name, "finding": c.finding.code if c.finding is not None else None,
                "score": c.score, "colour": c.colour}
               for c in SegmentationClass.objects.filter(index__gt=0).select_related("finding").order_by("index")]
    patient = video.exam.patient
    return {
        "video": {"id": video.pk, "original_name": video.original_name, "fps": video.fps,
                  "frame_count": len(frames), "width": video.width, "height": video.height,
                  "lung_zone": video.lung_zone, "probe": video.probe,
                  "patient": {"id": patient.pk, "code": patient.code}, "site": {"id": patient.site_id,
                                                                                "name": patient.site.name}},
        "frames": frames,
        "segmentation_classes": classes,
        "findings": [{"code": code, "name": name, "description": description}
                     for code, name, description in findings_vocabulary().values_list("code", "name", "description")],
        "mine": {
            "frame_scores": my_scores,
            "video_score": my_video_score,
            "findings": my_findings,
            "contours": my_contours,
            "tracks": my_tracks,
        },
        "preannotations": preannotations,
        "others": others,
        "model": _model_output(video) if model_output_visible_to(user, revealed=revealed) else {
            "visible": False, "frame_model_version": None, "frames": [], "video": None,
            "segmentation_model_version": None, "segmentations": []},
    }
