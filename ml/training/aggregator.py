"""Training of the uninorm video aggregator on per-frame predictions of labelled videos.

Programmatic API (what the platform's ``aggregator`` jobs call)::

    agg = train_aggregator(AggregatorTrainConfig(), predictions, video_labels, out_dir="runs/agg")

``predictions`` are per-frame rows as ``python -m ml.predict`` writes them (:func:`ml.data.read_predictions`),
``video_labels`` ``{video: score}`` (:func:`ml.data.load_video_labels`); the saved ``aggregator.pt`` loads
with :func:`ml.inference.load_aggregator`.

The predictions must be of videos the frame scorer never saw: on its own training videos a frame scorer is
over-confident and the aggregator learns nothing useful (often one class for every video, which the result's
``warnings`` report). This module takes the predictions as given and offers no inner out-of-fold scheme; the
command-line path gets unseen predictions from a patient-level split of the training data
(``python -m ml.manifest split``: one part trains the frame scorer, the other is predicted and trains the
aggregator), as ``bench/covid_blues_cv.py`` and the platform's aggregator jobs do.

CLI: ``python -m ml.train aggregator --predictions P.jsonl --labels L.csv --out DIR`` (see :mod:`ml.train`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ml.aggregation import OffDiagonal, TNorm, UninormAggregator, fit_aggregator
from ml.data import group_predictions
from ml.scores import NUM_SCORES
from ml.utils import seed_everything

from .common import ProgressCallback, StopCallback, TrainConfig, TrainingCancelled, TrainProgress

__all__ = ["AggregatorTrainConfig", "AggregatorTrainResult", "train_aggregator"]


@dataclass
class AggregatorTrainConfig(TrainConfig):
    """Uninorm aggregator training configuration (see :func:`ml.aggregation.fit_aggregator`)."""

    num_classes: int = NUM_SCORES
    tnorm: str = "product"
    off_diagonal: str = "min"
    init_neutral: float = 0.5
    max_epochs: int = 500
    lr: float = 1e-2
    patience: int = 20
    sord_scale: float = 1.0
    seed: int = 0


@dataclass
class AggregatorTrainResult:
    """Outcome of :func:`train_aggregator`: the fitted aggregator, ``fit_aggregator``'s history, the
    video ids used (in order), the saved file (``aggregator.pt``), report files, the fitted aggregator's
    predictions for the training videos (``train_predictions``, aligned with ``videos``) and warnings about
    the fit (one line each, also in ``metrics.json``)."""

    aggregator: UninormAggregator
    history: dict[str, Any]
    videos: list[str]
    path: Path | None = None
    report: dict[str, Path] = field(default_factory=dict)
    cancelled: bool = False
    train_predictions: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fit_warnings(predictions: Sequence[int], labels: Sequence[int]) -> list[str]:
    """A fit that gives every training video one class (while the labels have several) is degenerate."""
    if len(set(predictions)) == 1 and len(set(labels)) > 1:
        counts = ", ".join(f"{c}: {labels.count(c)}" for c in sorted(set(labels)))
        return [f"the aggregator predicts score {predictions[0]} for every one of the {len(predictions)} training "
                f"videos (their labels: {counts}): its video scores carry no information. Nearly uniform frame "
                "probabilities (an undertrained frame scorer) or over-confident ones (predictions for videos the "
                "frame scorer trained on) cause this"]
    return []


def train_aggregator(
    config: AggregatorTrainConfig | Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    video_labels: Mapping[str, int],
    *,
    out_dir: str | Path | None = None,
    progress_callback: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> AggregatorTrainResult:
    """Fit a :class:`ml.aggregation.UninormAggregator` on per-frame predictions of labelled videos.

    Args:
        config: :class:`AggregatorTrainConfig` or its dict form.
        predictions: per-frame rows with ``video``, ``frame`` and ``probs`` (as written by ``ml.predict``).
        video_labels: ``{video: score}``; videos without a label are skipped.
        out_dir: writes ``aggregator.pt`` (``{"config", "state_dict", "history"}``) and a report (``metrics.json``:
            summary, training-set predictions, warnings and the per-epoch ``history``; PNG curves).
        progress_callback: :class:`TrainProgress` per aggregator epoch (``phase="train"``).
        should_stop: polled every epoch.

    Raises:
        ValueError: if no prediction has a label.
    """
    if not isinstance(config, AggregatorTrainConfig):
        config = AggregatorTrainConfig.from_dict(config)
    seed_everything(config.seed)
    grouped = group_predictions(predictions)
    videos = sorted(v for v in grouped if v in video_labels)
    if not videos:
        raise ValueError("no predicted video has a label")
    model = UninormAggregator(
        config.num_classes,
        tnorm=cast(TNorm, config.tnorm),
        off_diagonal=cast(OffDiagonal, config.off_diagonal),
        init_neutral=config.init_neutral,
    )
    labels = torch.tensor([video_labels[v] for v in videos], dtype=torch.long)

    def progress(epoch: int, loss: float) -> None:
        if should_stop is not None and should_stop():
            raise TrainingCancelled
        if progress_callback is not None:
            progress_callback(
                TrainProgress("train", epoch, config.max_epochs, epoch, config.max_epochs, loss)
            )

    cancelled = False
    try:
        history = fit_aggregator(
            model,
            [grouped[v] for v in videos],
            labels,
            max_epochs=config.max_epochs,
            lr=config.lr,
            patience=config.patience,
            sord_scale=config.sord_scale,
            progress=progress,
        )
    except TrainingCancelled:
        cancelled, history = True, {}
    model.eval()
    train_predictions: list[int] = []
    warnings: list[str] = []
    if not cancelled:
        with torch.no_grad():
            train_predictions = [int(model.predict(grouped[v].unsqueeze(0).clamp(0, 1))[0]) for v in videos]
        warnings = _fit_warnings(train_predictions, labels.tolist())
    path = None
    report: dict[str, Path] = {}
    if out_dir is not None and not cancelled:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "aggregator.pt"
        torch.save(
            {
                "config": config.to_dict(),
                "state_dict": model.state_dict(),
                "history": history.get("records", []),
            },
            path,
        )
        from ml.metrics import write_report

        summary = {
            "num_videos": len(videos),
            "best_epoch": history.get("best_epoch"),
            "best_loss": history.get("best_loss"),
            "neutral": model.neutral_elements().detach().tolist(),
            "train_accuracy": sum(p == y for p, y in zip(train_predictions, labels.tolist(), strict=True)) / len(videos),
            "train_predictions": {str(c): train_predictions.count(c) for c in sorted(set(train_predictions))},
            "warnings": warnings,
            "config": config.to_dict(),
            "history": history.get("records", []),
        }
        report = write_report(out, metrics=summary, history=history.get("records", []))
    return AggregatorTrainResult(
        aggregator=model, history=history, videos=videos, path=path, report=report, cancelled=cancelled,
        train_predictions=train_predictions, warnings=warnings,
    )
