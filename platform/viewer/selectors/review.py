"""Reads for the viewer's review page (role filtering through the domain apps' selectors).

A patient's videos per lung zone with every visible human video score and video finding, the scores'
consensus (the agreement app's ratings and consensus rule, so the page and the agreement reports
agree), the model's video score, and the model-vs-consensus confusion matrix. A fixed handful of queries whatever the number of
videos, raters or patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.models import User
from agreement.selectors import Scope, consensus_rule, item_consensus, ratings
from annotations.models import LabelSource, VideoFinding, VideoScore
from annotations.selectors import labels_visible_to
from ml.scores import NUM_SCORES
from modelling.models import ModelKind, ModelVersion, VideoPrediction
from modelling.selectors import scoring_job_pending
from studies.models import LungZone, Patient, Video
from studies.selectors import patients_visible_to, videos_visible_to

from ..access import may_open
from .natural import natural_order

# Whose video score is "the model's": the aggregator refines the frame scorer's, so it wins when active.
VIDEO_MODEL_KINDS = (ModelKind.EMBEDDING, ModelKind.AGGREGATOR, ModelKind.SEQUENCE, ModelKind.FRAME_SCORER)
BLUE_POINTS = ("R1", "L1", "R2", "L2", "R3", "L3")
FOURTEEN_ZONES = tuple(f"Z{n:02d}" for n in range(1, 15))


def review_patients(*, user: User, search: str = "", site: int | None = None) -> QuerySet[Patient]:
    """Patients `user` may see, matching `search` (code or site name), each with its number of videos
    and of videos with at least one human video score `user` may see."""
    patients = patients_visible_to(user)
    if search:
        patients = patients.filter(Q(code__icontains=search) | Q(site__name__icontains=search))
    if site is not None:
        patients = patients.filter(site_id=site)
    videos = (videos_visible_to(user).filter(exam__patient=OuterRef("pk")).order_by()
              .values("exam__patient").annotate(n=Count("pk")).values("n")[:1])
    scored = (labels_visible_to(user, VideoScore).filter(source=LabelSource.HUMAN, video__exam__patient=OuterRef("pk"))
              .order_by()
              .values("video__exam__patient").annotate(n=Count("video", distinct=True)).values("n")[:1])
    return (patients.select_related("site")
            .annotate(n_videos=Coalesce(Subquery(videos, output_field=IntegerField()), Value(0)),
                      n_scored=Coalesce(Subquery(scored, output_field=IntegerField()), Value(0)))
            .order_by(*natural_order("site__name"), *natural_order("code"), "pk"))


def video_model_versions() -> list[ModelVersion]:
    """Versions whose kind writes video predictions, newest first (the page offers them to compare)."""
    return list(ModelVersion.objects.filter(kind__in=VIDEO_MODEL_KINDS).order_by("-created_at")
                .only("id", "kind", "name", "is_active", "created_at", "metrics", "data_snapshot"))


def review_model_version(versions: list[ModelVersion], version_id: int | None) -> ModelVersion | None:
    """The chosen version, else the active one of the first kind in VIDEO_MODEL_KINDS that has one."""
    if version_id is not None:
        return next((v for v in versions if v.pk == version_id), None)
    active = {v.kind: v for v in versions if v.is_active}
    return next((active[kind] for kind in VIDEO_MODEL_KINDS if kind in active), None)


@dataclass
class Confusion:
    """Model (columns) against consensus (rows) over the videos where both are defined."""

    matrix: list[list[int]] = field(default_factory=lambda: [[0] * NUM_SCORES for _ in range(NUM_SCORES)])
    n: int = 0
    agree: int = 0

    def add(self, consensus: int, model: int) -> None:
        self.matrix[consensus][model] += 1
        self.n += 1
        self.agree += consensus == model

    def as_dict(self) -> dict[str, Any]:
        return {"matrix": self.matrix, "n": self.n, "agreement": self.agree / self.n if self.n else None,
                "reason": None if self.n else "no video has both a consensus and a model score"}


def _consensus_by_video(user: User, scope: Scope) -> tuple[dict[int, int | None], str]:
    """video id -> consensus of the human scores `user` may see (None on a tie), and the rule used."""
    data = ratings(scope, labels=labels_visible_to(user, VideoScore))
    rule = consensus_rule(scope, data.raters)
    scores = item_consensus(data, rule)
    return {item: None if np.isnan(score) else int(score) for item, score in zip(data.items, scores, strict=True)}, rule


def _predictions(version: ModelVersion | None, videos: QuerySet[Video]) -> dict[int, dict[str, Any]]:
    if version is None:
        return {}
    rows = VideoPrediction.objects.filter(model_version=version, video__in=videos.values("pk"))
    return {video_id: {"score": score, "probabilities": probabilities}
            for video_id, score, probabilities in rows.values_list("video_id", "score", "probabilities")}


def _predicted_scores(version: ModelVersion | None, videos: QuerySet[Video]) -> dict[int, int]:
    if version is None:
        return {}
    rows = VideoPrediction.objects.filter(model_version=version, video__in=videos.values("pk"))
    return dict(rows.values_list("video_id", "score"))


def _zones(codes: set[str]) -> list[dict[str, str]]:
    """The protocol grid: the six BLUE points and/or the fourteen zones, whichever the videos use
    (BLUE when none says), plus 'unknown' when some video has no zone."""
    fourteen = any(code in FOURTEEN_ZONES for code in codes)
    blue = any(code in BLUE_POINTS for code in codes) or not fourteen
    order = (BLUE_POINTS if blue else ()) + (FOURTEEN_ZONES if fourteen else ())
    if LungZone.UNKNOWN in codes:
        order += (LungZone.UNKNOWN,)
    return [{"code": code, "label": LungZone(code).label} for code in order]


def review_patient(*, user: User, patient_id: int, model_version: int | None = None) -> dict[str, Any]:
    """Everything the review grid of one patient shows; 404 when the patient is not visible."""
    patient = get_object_or_404(patients_visible_to(user).select_related("site"), pk=patient_id)
    videos_qs = videos_visible_to(user).filter(exam__patient=patient)
    videos = list(videos_qs.select_related("exam").order_by("exam__date", "exam_id", "lung_zone", "pk"))
    versions = video_model_versions()
    version = review_model_version(versions, model_version)
    consensus, rule = _consensus_by_video(user, Scope(kind="video", patient=patient.pk))
    predictions = _predictions(version, videos_qs)
    labels = (labels_visible_to(user, VideoScore).filter(source=LabelSource.HUMAN, video__in=videos_qs.values("pk"))
              .order_by("annotator__username")
              .values("id", "video_id", "annotator_id", "annotator__username", "annotator__role", "score",
                      "validation_level", "version", "comment", "updated_at"))
    scores: dict[int, list[dict[str, Any]]] = {}
    raters: dict[int, dict[str, Any]] = {}
    for row in labels:
        raters[row["annotator_id"]] = {"id": row["annotator_id"], "username": row["annotator__username"],
                                       "role": row["annotator__role"]}
        scores.setdefault(row["video_id"], []).append({
            "id": row["id"], "annotator": row["annotator_id"], "score": row["score"],
            "validation_level": row["validation_level"], "version": row["version"], "comment": row["comment"],
            "updated_at": row["updated_at"]})
    findings: dict[int, list[dict[str, Any]]] = {}
    for row in (labels_visible_to(user, VideoFinding).filter(source=LabelSource.HUMAN, video__in=videos_qs.values("pk"))
                .order_by("annotator__username", "finding__order", "finding__code")
                .values("video_id", "annotator_id", "annotator__username", "annotator__role", "finding__code",
                        "finding__name", "present", "validation_level")):
        raters.setdefault(row["annotator_id"], {"id": row["annotator_id"], "username": row["annotator__username"],
                                                "role": row["annotator__role"]})
        findings.setdefault(row["video_id"], []).append({
            "annotator": row["annotator_id"], "finding": row["finding__code"], "name": row["finding__name"],
            "present": row["present"], "validation_level": row["validation_level"]})
    confusion = Confusion()
    rows = []
    for video in videos:
        human = scores.get(video.pk, [])
        agreed = consensus.get(video.pk)
        predicted = predictions.get(video.pk)
        if agreed is not None and predicted is not None:
            confusion.add(agreed, predicted["score"])
        rows.append({
            "id": video.pk, "original_name": video.original_name, "lung_zone": video.lung_zone,
            "exam": video.exam_id, "frame_count": video.frame_count, "scores": human,
            "findings": findings.get(video.pk, []),
            "consensus": agreed, "consensus_tie": agreed is None and bool(human),
            "model": predicted,
            "raters_disagree": len({s["score"] for s in human}) > 1,
            "model_disagrees": agreed is not None and predicted is not None and agreed != predicted["score"],
        })
    exams = {video.exam_id: video.exam for video in videos}
    return {
        "patient": {"id": patient.pk, "code": patient.code, "site": patient.site.name,
                    "covid_status": patient.covid_status},
        "exams": [{"id": exam.pk, "date": exam.date, "operator": exam.operator} for exam in exams.values()],
        "zones": _zones({video.lung_zone for video in videos}),
        "raters": sorted(raters.values(), key=lambda r: r["username"]),
        "videos": rows,
        "consensus_rule": rule,
        "model_version": version,
        "model_versions": versions,
        "confusion": confusion.as_dict(),
        "may_annotate": may_open(user, "annotate"),
        "may_validate": may_open(user, "validate"),
        "scoring": review_scoring(version),
    }


def review_scoring(version: ModelVersion | None) -> dict[str, Any] | None:
    """The queued or running job scoring every video with `version` (e.g. just activated, no predictions
    yet): the page says its scores are on their way instead of leaving "no prediction" unexplained."""
    job = scoring_job_pending(version) if version is not None else None
    if job is None:
        return None
    progress = job.progress or {}
    return {"job": job.pk, "status": job.status, "done": progress.get("step", 0), "total": progress.get("steps", 0)}


def review_confusion(*, user: User, site: int | None = None, model_version: int | None = None) -> dict[str, Any]:
    """Model against consensus over every video `user` may see (optionally of one site)."""
    versions = video_model_versions()
    version = review_model_version(versions, model_version)
    consensus, rule = _consensus_by_video(user, Scope(kind="video", site=site))
    videos = videos_visible_to(user)
    if site is not None:
        videos = videos.filter(exam__patient__site_id=site)
    predicted = _predicted_scores(version, videos)
    confusion = Confusion()
    for video_id, agreed in consensus.items():
        if agreed is not None and video_id in predicted:
            confusion.add(agreed, predicted[video_id])
    return {"model_version": version, "consensus_rule": rule, "confusion": confusion.as_dict(),
            "n_predicted": len(predicted), "n_with_consensus": sum(v is not None for v in consensus.values())}
