"""Reads for the viewer's dashboard page (admins: they see everything, so no role filtering here).

Dataset statistics as a fixed number of aggregate queries (counts grouped in the database), and the
choices and defaults of the training form, read from the ml configs so the form never drifts from
what the job validation accepts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count

from annotations.models import Contour, FrameScore, LabelSource, VideoScore
from annotations.selectors import LabelModel
from ml.scores import NUM_SCORES
from modelling.models import JobStatus, ModelKind, ModelVersion, TrainingJob
from modelling.selection import CONSENSUS_RULES, LABEL_KINDS, DataSelection
from studies.models import Exam, Frame, Patient, Site, Video

LEVELS = (1, 2, 3, 4)
LABEL_MODELS: dict[str, LabelModel] = {"frame_scores": FrameScore, "video_scores": VideoScore, "contours": Contour}


def _score_counts(model: type[FrameScore] | type[VideoScore]) -> list[int]:
    counts = [0] * NUM_SCORES
    for score, n in model.objects.filter(source=LabelSource.HUMAN).values_list("score").annotate(n=Count("pk")):
        counts[score] += n
    return counts


def dashboard_stats() -> dict[str, Any]:
    """Totals, labels per validation level and per annotator (each kind), the score distributions of
    human frame and video scores, jobs per status and the active model versions."""
    totals = {"sites": Site.objects.count(), "patients": Patient.objects.count(), "exams": Exam.objects.count(),
              "videos": Video.objects.count(), "frames": Frame.objects.count()}
    per_level = {kind: dict.fromkeys(LEVELS, 0) for kind in LABEL_MODELS}
    annotators: dict[int, dict[str, Any]] = {}
    for kind, model in LABEL_MODELS.items():
        rows = (model.objects.filter(source=LabelSource.HUMAN).order_by()
                .values_list("annotator_id", "annotator__username", "annotator__role", "validation_level")
                .annotate(n=Count("pk")))
        totals[kind] = 0
        for user_id, username, role, level, n in rows:
            per_level[kind][level] = per_level[kind].get(level, 0) + n
            person = annotators.setdefault(user_id, {"id": user_id, "username": username, "role": role,
                                                     **dict.fromkeys(LABEL_MODELS, 0)})
            person[kind] += n
            totals[kind] += n
    jobs: dict[str, int] = defaultdict(int, dict.fromkeys(JobStatus.values, 0))
    for status, n in TrainingJob.objects.order_by().values_list("status").annotate(n=Count("pk")):
        jobs[status] = n
    return {
        "totals": totals,
        "labels_per_level": [{"level": level, **{kind: per_level[kind][level] for kind in LABEL_MODELS}}
                             for level in sorted(set(LEVELS) | {lv for counts in per_level.values() for lv in counts})],
        "labels_per_annotator": sorted(annotators.values(),
                                       key=lambda a: (-sum(a[k] for k in LABEL_MODELS), a["username"])),
        "frame_score_distribution": _score_counts(FrameScore),
        "video_score_distribution": _score_counts(VideoScore),
        "jobs_per_status": dict(jobs),
        "active_versions": list(ModelVersion.objects.filter(is_active=True).order_by("kind")),
    }


def training_options() -> dict[str, Any]:
    """What the training form offers: the kinds, frame-scorer architectures, the default parameters of
    each kind and the default data selection."""
    from ml.models import MODEL_REGISTRY, list_models
    from modelling.services import training_config_class

    return {
        "kinds": [{"value": value, "label": label} for value, label in ModelKind.choices],
        "frame_models": [{"name": name, "description": MODEL_REGISTRY[name].description}
                         for name in list_models("frame")],
        "defaults": {kind: training_config_class(kind)().to_dict() for kind in ModelKind.values},
        "data_selection": DataSelection().to_dict(),
        "consensus_rules": list(CONSENSUS_RULES),
        "label_kinds": list(LABEL_KINDS),
    }
