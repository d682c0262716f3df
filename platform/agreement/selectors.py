"""Ratings matrices for agreement: items × raters over a scope, humans and optionally one model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import QuerySet

from annotations.models import Contour, Finding, FrameScore, LabelSource, VideoFinding, VideoScore
from modelling.models import FramePrediction, VideoPrediction

if TYPE_CHECKING:
    from ml.agreement.consensus import Rule as ConsensusRule

KINDS = ("frame", "video", "contour", "finding")
MASK_CHUNK = 64  # frames rasterised at a time: memory stays flat over large scopes


@dataclass(frozen=True)
class Scope:
    """Which labels are compared: frame or video scores, contours or video findings (each finding on its
    own; `findings` picks codes, None: every finding), within one video, patient, site or the dataset,
    by given annotators (None: all humans) at a minimum validation level; `model_version` joins the
    raters when given (scores only)."""

    kind: str = "video"
    video: int | None = None
    patient: int | None = None
    site: int | None = None
    annotators: list[int] | None = None
    min_level: int = 1
    model_version: int | None = None
    consensus: ConsensusRule | None = None  # majority | median | most_expert (default: most_expert)
    findings: list[str] | None = None
    include_preannotated: bool = False  # contours: also accepted, unedited model pre-annotations (the model's)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Scope:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown scope field(s): {', '.join(sorted(unknown))}")
        scope = cls(**data)
        if scope.kind not in KINDS:
            raise ValueError(f"kind must be 'frame', 'video', 'contour' or 'finding', got {scope.kind!r}")
        if scope.kind == "finding" and scope.model_version is not None:
            raise ValueError("no model states findings: a finding report compares people only")
        if scope.findings is not None and (not isinstance(scope.findings, list)
                                           or not all(isinstance(code, str) for code in scope.findings)):
            raise ValueError("findings must be a list of finding codes")
        if scope.consensus not in (None, "majority", "median", "most_expert"):
            raise ValueError(f"unknown consensus rule {scope.consensus!r}")
        if not 1 <= scope.min_level <= 4:
            raise ValueError(f"min_level must be 1–4, got {scope.min_level}")
        return scope


@dataclass
class Ratings:
    matrix: np.ndarray  # (n_items, n_raters) float, NaN = not rated
    items: list[int]
    raters: list[dict[str, Any]]  # {"kind": "user"|"model", "id", "name", "level"}


def _video_path(kind: str) -> str:
    return "frame__video" if kind == "frame" else "video"


def _where(scope: Scope, video: str) -> dict[str, Any]:
    where: dict[str, Any] = {}
    if scope.video is not None:
        where[f"{video}_id"] = scope.video
    if scope.patient is not None:
        where[f"{video}__exam__patient_id"] = scope.patient
    if scope.site is not None:
        where[f"{video}__exam__patient__site_id"] = scope.site
    return where


def ratings(scope: Scope, *, labels: QuerySet | None = None) -> Ratings:
    """Items × raters of the scope. `labels` narrows the human labels considered (e.g. to those a user
    may see, annotations.selectors.labels_visible_to); default: every label of the scope's kind."""
    model = FrameScore if scope.kind == "frame" else VideoScore
    item = "frame_id" if scope.kind == "frame" else "video_id"
    video = _video_path(scope.kind)
    where = _where(scope, video)
    labels = (model.objects.all() if labels is None else labels).filter(
        source=LabelSource.HUMAN, validation_level__gte=scope.min_level, **where)
    if scope.annotators is not None:
        labels = labels.filter(annotator_id__in=scope.annotators)
    triples = list(labels.values_list(item, "annotator_id", "score", "annotator__username", "annotator__validation_level"))
    raters = {}
    for _, user_id, _, name, level in triples:
        raters[("user", user_id)] = {"kind": "user", "id": user_id, "name": name, "level": level}
    if scope.model_version is not None:
        prediction = FramePrediction if scope.kind == "frame" else VideoPrediction
        key = "frame_id" if scope.kind == "frame" else "video_id"
        predicted = prediction.objects.filter(model_version_id=scope.model_version, **where).values_list(key, "score")
        triples += [(item_id, -scope.model_version, score, "", 0) for item_id, score in predicted]
        raters[("model", -scope.model_version)] = {"kind": "model", "id": scope.model_version,
                                                   "name": f"model v{scope.model_version}", "level": 0}
    order = sorted(raters, key=lambda k: (k[0] == "model", raters[k]["name"]))
    column = {(k[1]): i for i, k in enumerate(order)}
    items = sorted({t[0] for t in triples})
    row = {item_id: i for i, item_id in enumerate(items)}
    matrix = np.full((len(items), len(order)), np.nan)
    for item_id, rater_id, score, _, _ in triples:
        matrix[row[item_id], column[rater_id]] = score
    return Ratings(matrix=matrix, items=items, raters=[raters[k] for k in order])


def finding_ratings(scope: Scope) -> dict[str, tuple[str, Ratings]]:
    """finding code -> (its name, videos × raters: 1 present, 0 absent, NaN not stated), in vocabulary
    order, for the findings with labels in the scope. Raters are those who labelled that finding."""
    labels = VideoFinding.objects.filter(source=LabelSource.HUMAN, validation_level__gte=scope.min_level,
                                         **_where(scope, "video"))
    if scope.annotators is not None:
        labels = labels.filter(annotator_id__in=scope.annotators)
    if scope.findings is not None:
        labels = labels.filter(finding__code__in=scope.findings)
    rows = labels.values_list("finding_id", "video_id", "annotator_id", "present", "annotator__username",
                              "annotator__validation_level")
    by_finding: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)
    people: dict[int, dict[str, Any]] = {}
    for finding_id, video_id, user_id, present, name, level in rows.iterator(chunk_size=5000):
        by_finding[finding_id].append((video_id, user_id, present))
        people[user_id] = {"kind": "user", "id": user_id, "name": name, "level": level}
    result: dict[str, tuple[str, Ratings]] = {}
    for finding in Finding.objects.filter(pk__in=list(by_finding)).order_by("order", "code"):
        triples = by_finding[finding.pk]
        raters = sorted({user_id for _, user_id, _ in triples}, key=lambda u: people[u]["name"])
        items = sorted({video_id for video_id, _, _ in triples})
        column, row = {u: i for i, u in enumerate(raters)}, {v: i for i, v in enumerate(items)}
        matrix = np.full((len(items), len(raters)), np.nan)
        for video_id, user_id, present in triples:
            matrix[row[video_id], column[user_id]] = float(present)
        result[finding.code] = (finding.name, Ratings(matrix=matrix, items=items,
                                                      raters=[people[u] for u in raters]))
    return result


def consensus_rule(scope: Scope, raters: Sequence[dict[str, Any]]) -> ConsensusRule:
    """The rule reports use: the scope's own, else the most expert rater's score when the raters carry
    validation levels, else the majority."""
    return scope.consensus or ("most_expert" if any(float(r["level"]) for r in raters) else "majority")


def item_consensus(data: Ratings, rule: ConsensusRule) -> np.ndarray:
    """(n_items,) consensus of a ratings matrix by `rule` (ml.agreement.consensus, ties NaN as in
    reports)."""
    from ml.agreement import consensus

    if data.matrix.size == 0:
        return np.full(len(data.items), np.nan)
    levels = [float(r["level"]) for r in data.raters] if rule == "most_expert" else None
    return consensus(data.matrix, rule, levels=levels, tie="nan")


def _mean(values: list[np.ndarray]) -> float | None:
    joined = np.concatenate(values) if values else np.empty(0)
    defined = joined[~np.isnan(joined)]
    return float(defined.mean()) if defined.size else None


def contour_agreement(scope: Scope) -> dict[str, Any]:
    """Pairwise Dice and IoU of the annotators' contours per marker class and over the union of
    COVID-19 markers, rasterised at frame resolution. A rater who drew nothing on a frame of the scope
    said "no markers" there (an all-background mask). Proposals are never compared; accepted pre-annotations
    the annotator did not edit count as the model's and join only with `include_preannotated`."""
    from ml.agreement import pairwise_dice_batch
    from ml.geometry import rasterise

    sources = [LabelSource.HUMAN, LabelSource.MODEL] if scope.include_preannotated else [LabelSource.HUMAN]
    contours = Contour.objects.filter(source__in=sources, is_proposal=False, validation_level__gte=scope.min_level,
                                      **_where(scope, "frame__video"))
    if scope.annotators is not None:
        contours = contours.filter(annotator_id__in=scope.annotators)
    rows = contours.order_by("frame_id").values_list("frame_id", "annotator__username", "segmentation_class__index",
                                                     "vertices", "frame__video__height", "frame__video__width")
    frames: dict[int, tuple[tuple[int, int], dict[str, dict[int, list]]]] = {}
    for frame_id, name, class_id, vertices, height, width in rows.iterator(chunk_size=5000):
        size, drawn = frames.setdefault(frame_id, ((height, width), defaultdict(lambda: defaultdict(list))))
        drawn[name][class_id].append(vertices)
    raters = sorted({name for _, drawn in frames.values() for name in drawn})
    result: dict[str, Any] = {"n_frames": len(frames), "raters": raters}
    if len(raters) < 2:
        return {**result, "pairs": [], "reason": "fewer than two annotators contoured frames in this scope"}
    dice: dict[str, list[np.ndarray]] = defaultdict(list)
    iou: dict[str, list[np.ndarray]] = defaultdict(list)
    pairs = None
    by_size: dict[tuple[int, int], list[dict[str, dict[int, list]]]] = defaultdict(list)
    for size, drawn in frames.values():
        by_size[size].append(drawn)
    for (height, width), drawings in by_size.items():
        for start in range(0, len(drawings), MASK_CHUNK):
            chunk = drawings[start:start + MASK_CHUNK]
            masks = np.stack([np.stack([rasterise(drawn.get(name, {}), height, width) for name in raters])
                              for drawn in chunk])
            found = pairwise_dice_batch(masks)
            pairs = found["pairs"]
            for key, values in found["dice"].items():
                dice[str(key)].append(values)
            for key, values in found["iou"].items():
                iou[str(key)].append(values)
    assert pairs is not None
    result["pairs"] = [
        {"raters": [raters[i], raters[j]],
         "dice": {key: _mean([v[:, p] for v in values]) for key, values in dice.items()},
         "iou": {key: _mean([v[:, p] for v in values]) for key, values in iou.items()}}
        for p, (i, j) in enumerate(np.asarray(pairs).tolist())]
    result["mean_dice"] = {key: _mean([v.ravel() for v in values]) for key, values in dice.items()}
    result["mean_iou"] = {key: _mean([v.ravel() for v in values]) for key, values in iou.items()}
    return result
