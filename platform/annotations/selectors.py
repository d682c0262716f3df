"""Reads on labels, filtered by role (blind annotation unless the project reveals labels)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import Role, User
from studies.selectors import is_admin

from .models import (
    Contour,
    ContourOrigin,
    Finding,
    FrameScore,
    LabelChange,
    ProjectSettings,
    Track,
    VideoFinding,
    VideoScore,
)

LabelModel = type[FrameScore] | type[VideoScore] | type[VideoFinding] | type[Contour]


def project_settings() -> ProjectSettings:
    settings, _ = ProjectSettings.objects.get_or_create(pk=1)
    return settings


def labels_revealed() -> bool:
    """Whether the project shows annotators each other's labels and the model's output (one query: a reader
    that asks several of the functions below reads it once and passes it as `revealed`)."""
    return project_settings().reveal_labels_to_annotators


def labels_visible_to(user: User, model: LabelModel, *, revealed: bool | None = None) -> QuerySet:
    """Admins and clinicians: every label. Validators: their own and those below their level.
    Annotators: their own only, on their assigned videos, unless the project reveals labels."""
    labels = model.objects.all()
    if model is Contour:
        labels = labels.filter(**{"is_proposal": False})  # a proposal is no label until its annotator accepts it
    video = "video" if model in (VideoScore, VideoFinding) else "frame__video"
    if not user.is_authenticated:
        return labels.none()
    if is_admin(user) or user.role == Role.CLINICIAN:
        return labels
    if user.role == Role.VALIDATOR:
        return labels.filter(Q(annotator=user) | Q(validation_level__lt=user.validation_level))
    labels = labels.filter(**{f"{video}__assignments__annotator": user})
    if not (labels_revealed() if revealed is None else revealed):
        labels = labels.filter(annotator=user)
    return labels


def findings_vocabulary() -> QuerySet[Finding]:
    """Every finding, in the viewer's order."""
    return Finding.objects.order_by("order", "code")


def findings_consensus(labels: QuerySet[VideoFinding]) -> dict[int, dict[str, bool]]:
    """video id -> {finding code: present} of `labels`: per video and finding, the majority of the labels
    at the highest validation level among them; ties are left out (no consensus, no entry)."""
    votes: dict[tuple[int, str], list[int]] = {}  # (video, code) -> [level, present votes, absent votes]
    for video_id, code, level, present in labels.values_list(
            "video_id", "finding__code", "validation_level", "present").iterator(chunk_size=5000):
        tally = votes.setdefault((video_id, code), [level, 0, 0])
        if level > tally[0]:
            tally[:] = [level, 0, 0]
        if level == tally[0]:
            tally[1 if present else 2] += 1
    consensus: dict[int, dict[str, bool]] = {}
    for (video_id, code), (_, yes, no) in sorted(votes.items()):
        if yes != no:
            consensus.setdefault(video_id, {})[code] = yes > no
    return consensus


def model_output_visible_to(user: User, *, revealed: bool | None = None) -> bool:
    """Predictions are for clinicians, validators and admins; annotators only when labels are revealed."""
    if not user.is_authenticated:
        return False
    if is_admin(user) or user.role in (Role.CLINICIAN, Role.VALIDATOR):
        return True
    return labels_revealed() if revealed is None else revealed


def label_history_visible_to(user: User) -> QuerySet[LabelChange]:
    history = LabelChange.objects.all()
    if not user.is_authenticated:
        return history.none()
    if is_admin(user) or user.role == Role.CLINICIAN:
        return history
    if user.role == Role.VALIDATOR:
        return history.filter(Q(owner=user) | Q(owner__validation_level__lt=user.validation_level))
    return history.filter(owner=user)


def preannotations_visible_to(user: User, *, revealed: bool | None = None) -> bool:
    """Model pre-annotations (proposed polygons, pre-filled scores) are offered where the site allows them
    (settings.PLEURA_PREANNOTATIONS, "on" by default) and the person may see model output: blind mode
    (ProjectSettings.reveal_labels_to_annotators off) keeps them from annotators."""
    if getattr(settings, "PLEURA_PREANNOTATIONS", "on") == "off":
        return False
    return model_output_visible_to(user, revealed=revealed)


def my_contours_of_video(user: User, video_id: int, *, preannotations: bool | None = None) -> QuerySet[Contour]:
    """The user's own contours of a video with their track fields, proposals included; pending model
    proposals only where pre-annotations are visible to them (`preannotations`: already known)."""
    rows = Contour.objects.filter(frame__video_id=video_id, annotator=user)
    if not (preannotations_visible_to(user) if preannotations is None else preannotations):
        rows = rows.exclude(is_proposal=True, origin=ContourOrigin.MODEL)
    return rows


def track_rows(user: User, video_id: int) -> list[dict[str, Any]]:
    """The user's tracks of a video with every contour of each (two queries)."""
    tracks: dict[int, dict[str, Any]] = {
        pk: {"id": pk, "segmentation_class": cls, "gaps": gaps, "contours": []}
        for pk, cls, gaps in Track.objects.filter(video_id=video_id, annotator=user).order_by("id")
        .values_list("id", "segmentation_class__index", "gaps")}
    for pk, track, index, vertices, origin, keyframe, proposal, version, model_version in (
            my_contours_of_video(user, video_id).filter(track_id__in=list(tracks)).order_by("frame__index")
            .values_list("id", "track_id", "frame__index", "vertices", "origin", "is_keyframe", "is_proposal",
                         "version", "model_version_id")):
        tracks[track]["contours"].append(
            {"id": pk, "frame_index": index, "vertices": vertices, "origin": origin, "is_keyframe": keyframe,
             "is_proposal": proposal, "version": version, "model_version": model_version})
    return list(tracks.values())
