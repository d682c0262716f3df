"""Reads for the viewer's validate page: the labels of lower validation levels beside the validator's own.

Validators see their own labels and those below their level (annotations.selectors.labels_visible_to);
admins see every label, and here too only those below their level are put up for validation. Seven
queries whatever the video's length: the frames, my and the others' frame scores, the video scores,
the video findings, their annotators' names, and the findings vocabulary (the validator states their own
findings here, at their level, through the annotations API).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User
from annotations.models import FrameScore, VideoFinding, VideoScore
from annotations.selectors import findings_vocabulary, labels_visible_to
from studies.models import Video


def _label(label: FrameScore | VideoScore) -> dict[str, Any]:
    return {"id": label.pk, "annotator": label.annotator_id, "score": label.score,
            "validation_level": label.validation_level, "source": label.source, "version": label.version}


def validation_view(*, user: User, video: Video) -> dict[str, Any]:
    """Every frame of `video` with the lower-level frame scores and `user`'s own; the same for the
    video scores; and the people who made them. `user` must be allowed to see `video`."""
    level = user.validation_level
    frame_scores = labels_visible_to(user, FrameScore).filter(frame__video=video)
    video_scores = labels_visible_to(user, VideoScore).filter(video=video)
    lower = {"validation_level__lt": level}

    mine_by_frame = {s.frame_id: _label(s) for s in frame_scores.filter(annotator=user)}
    others_by_frame: dict[int, list[dict[str, Any]]] = {}
    for score in frame_scores.filter(**lower).exclude(annotator=user).order_by("frame_id", "-validation_level",
                                                                              "annotator_id"):
        others_by_frame.setdefault(score.frame_id, []).append(_label(score))
    scored = list(video_scores.order_by("-validation_level", "annotator_id"))  # mine and the lower ones at once
    others_video = [{**_label(s), "comment": s.comment} for s in scored
                    if s.annotator_id != user.pk and s.validation_level < level]
    mine_video = next((s for s in scored if s.annotator_id == user.pk), None)
    findings = [
        {"id": f["id"], "annotator": f["annotator_id"], "finding": f["finding__code"], "name": f["finding__name"],
         "present": f["present"], "validation_level": f["validation_level"], "version": f["version"]}
        for f in labels_visible_to(user, VideoFinding).filter(video=video).filter(
            Q(annotator=user) | Q(validation_level__lt=level)).order_by(
            "-validation_level", "annotator_id", "finding__order", "finding__code").values(
            "id", "annotator_id", "finding__code", "finding__name", "present", "validation_level", "version")]

    people = {label["annotator"] for labels in others_by_frame.values() for label in labels}
    people |= {label["annotator"] for label in others_video}
    people |= {f["annotator"] for f in findings if f["annotator"] != user.pk}
    annotators = [{"id": u.pk, "username": u.username, "role": u.role, "validation_level": u.validation_level}
                  for u in User.objects.filter(pk__in=people).order_by("-validation_level", "username")]

    patient = video.exam.patient
    return {
        "video": {"id": video.pk, "original_name": video.original_name, "frame_count": video.frame_count,
                  "width": video.width, "height": video.height, "fps": video.fps, "lung_zone": video.lung_zone,
                  "probe": video.probe, "site": patient.site.name, "patient": patient.code},
        "level": level,
        "annotators": annotators,
        "frames": [{"id": frame_id, "index": index, "scores": others_by_frame.get(frame_id, []),
                    "mine": mine_by_frame.get(frame_id)}
                   for frame_id, index in video.frames.order_by("index").values_list("id", "index")],
        "video_scores": others_video,
        "my_video_score": {**_label(mine_video), "comment": mine_video.comment} if mine_video else None,
        "video_findings": [f for f in findings if f["annotator"] != user.pk],
        "my_findings": [f for f in findings if f["annotator"] == user.pk],
        "findings": [{"code": code, "name": name, "description": description}
                     for code, name, description in findings_vocabulary().values_list("code", "name", "description")],
    }
