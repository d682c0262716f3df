"""Training the embedding video scorers (attention MIL, linear probe) on cached frame embeddings.

The recommended CPU recipe: a frozen ImageNet encoder embeds frames once (:mod:`ml.embeddings`); the
head trains full-batch in seconds, with class-balanced SORD on the severity score, binary
cross-entropy on the known findings, early stopping on validation patients, and a calibration
temperature fitted on them. :func:`cross_validate` runs the same recipe under patient-level k-fold
CV (what a model version records as its expected performance).

    result = train_embedding_model(EmbeddingTrainConfig(), bags)     # bags: list[VideoBag]
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.aggregation import UninormAggregator, fit_aggregator
from ml.checkpoint import save_checkpoint
from ml.data.splits import patient_kfold, patient_max_scores, patient_train_test_split
from ml.embeddings import EmbeddingSpec, VideoBag
from ml.losses import DEFAULT_SORD_SCALE, sord_soft_labels
from ml.metrics.calibration import fit_temperature
from ml.metrics.scoring import score_report
from ml.models import EmbeddingVideoScorer, get_model_spec, pad_bags
from ml.scores import NUM_SCORES
from ml.utils import seed_everything

from .common import ProgressCallback, StopCallback, TrainConfig, TrainingCancelled, TrainProgress

__all__ = ["EmbeddingTrainConfig", "EmbeddingTrainResult", "bag_predictions", "cross_validate", "finding_truth",
           "fit_uninorm", "frame_aggregate_probs", "oof_predictions", "patient_folds", "split_validation",
           "train_embedding_model", "uninorm_from_state", "uninorm_state"]


@dataclass
class EmbeddingTrainConfig(TrainConfig):
    """The embedding recipe (JSON-serialisable; stored in checkpoints and model versions).

    ``encoder``/``pretrained``/``size``/``frame_step`` say which cached embeddings the head reads;
    ``epochs`` bounds the full-batch steps (L-BFGS iterations), ``patience`` stops AdamW after that
    many without a better validation loss. The defaults are the recommended recipe: the linear probe
    fitted by L-BFGS with ``l2 = 0.25`` (sklearn's C = 0.01 on ~190 videos) had the best patient-level
    CV on the COVID-BLUeS dev folder among the heads tried (bench/covid_blues_cv.py)."""

    model: str = "embedding_probe"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    encoder: str = "efficientnet_lite0"
    pretrained: str | None = "imagenet"
    size: int = 224
    frame_step: int = 4
    findings: tuple[str, ...] = ("a_lines", "b_lines")
    findings_weight: float = 0.5
    num_classes: int = NUM_SCORES
    epochs: int = 200
    patience: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-2
    #: "adamw" (early-stopped on validation) or "lbfgs" (a convex probe fitted to convergence with ``l2``)
    optimizer: str = "lbfgs"
    #: L2 penalty on the heads' weights, on the scale of the mean loss (sklearn's C = 1 / (2 l2 n)); it applies
    #: to both optimizers: with "adamw" and a hidden projection set it to 0 (weight_decay regularises there)
    l2: float = 0.25
    sord_scale: float = DEFAULT_SORD_SCALE
    balanced: bool = True
    validation_fraction: float = 0.2
    #: inner patient-level folds whose out-of-fold frame probabilities fit the paper's uninorm aggregator on
    #: every training patient (0: no uninorm). Fitting it on the few validation patients alone collapsed it.
    uninorm_folds: int = 0
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        get_model_spec(self.model, "embedding")
        self.findings = tuple(self.findings)
        self.model_kwargs = dict(self.model_kwargs)
        self._check_positive("epochs", "patience", "frame_step")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in ("adamw", "lbfgs"):
            raise ValueError(f"optimizer must be 'adamw' or 'lbfgs', got {self.optimizer!r}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if self.uninorm_folds == 1 or self.uninorm_folds < 0:
            raise ValueError(f"uninorm_folds must be 0 (none) or >= 2, got {self.uninorm_folds}")
        self.embedding_spec()  # checks encoder, weights and size

    def embedding_spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(self.encoder, self.pretrained, self.size)


@dataclass
class EmbeddingTrainResult:
    """The trained (calibrated) head, its per-epoch history, validation metrics and checkpoint."""

    model: EmbeddingVideoScorer
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    temperature: float
    best_epoch: int
    checkpoint: Path | None = None
    cancelled: bool = False
    #: the uninorm aggregator fitted on inner out-of-fold frame probabilities (``uninorm_folds`` > 0)
    uninorm: UninormAggregator | None = None


def split_validation(bags: Sequence[VideoBag], fraction: float, seed: int) -> tuple[list[VideoBag], list[VideoBag]]:
    """Patients held out for early stopping and calibration (stratified by each patient's worst score).

    Raises:
        ValueError: when the split leaves no validation video (too few patients): training would
            have nothing to stop or calibrate on, so it is refused instead of silently overfitting.
    """
    labelled = [b for b in bags if b.score is not None]
    patients = sorted({b.patient for b in labelled})
    if len(patients) < 3:
        raise ValueError(f"the embedding recipe needs videos of at least 3 patients (early stopping and "
                         f"calibration hold some out); got {len(patients)}")
    worst = patient_max_scores([b.patient for b in labelled], [int(b.score) for b in labelled])  # type: ignore[arg-type]
    _, val_p = patient_train_test_split(patients, test_fraction=fraction, seed=seed,
                                        labels=[worst[p] for p in patients])
    keep = set(val_p)
    train, val = [b for b in labelled if b.patient not in keep], [b for b in labelled if b.patient in keep]
    if not val or not train:
        raise ValueError("the validation split is empty; add patients or raise validation_fraction")
    return train, val


def _tensors(bags: Sequence[VideoBag], findings: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
    x, mask = pad_bags([torch.from_numpy(np.asarray(b.embeddings, dtype=np.float32)) for b in bags])
    known = torch.tensor([[code in b.findings for code in findings] for b in bags], dtype=torch.float32)
    present = torch.tensor([[bool(b.findings.get(code, False)) for code in findings] for b in bags],
                           dtype=torch.float32)
    scores = torch.tensor([int(b.score) if b.score is not None else -1 for b in bags], dtype=torch.long)
    return {"x": x.to(device), "mask": mask.to(device), "known": known.to(device), "present": present.to(device),
            "scores": scores.to(device)}


def _loss(model: EmbeddingVideoScorer, data: dict[str, torch.Tensor], targets: torch.Tensor, weights: torch.Tensor,
          findings_weight: float, l2: float = 0.0) -> tuple[torch.Tensor, Any]:
    out = model(data["x"], data["mask"])
    severity = -(targets * out.logits.log_softmax(1)).sum(1)
    loss = (severity * weights[data["scores"]]).sum() / weights[data["scores"]].sum()
    if out.finding_logits is not None and findings_weight > 0 and bool(data["known"].any()):
        bce = nn.functional.binary_cross_entropy_with_logits(out.finding_logits, data["present"], reduction="none")
        loss = loss + findings_weight * (bce * data["known"]).sum() / data["known"].sum()
    if l2 > 0:
        loss = loss + l2 * sum((m.weight ** 2).sum() for m in model.modules() if isinstance(m, nn.Linear))
    return loss, out


def train_embedding_model(config: EmbeddingTrainConfig, bags: Sequence[VideoBag], *,
                          val_bags: Sequence[VideoBag] | None = None, out_dir: str | Path | None = None,
                          progress_callback: ProgressCallback | None = None,
                          should_stop: StopCallback | None = None) -> EmbeddingTrainResult:
    """Train, early-stop and calibrate one head. ``val_bags`` default: patients split off ``bags``.

    Raises:
        ValueError: on unlabelled bags, a missing class in training, or an empty validation split.
    """
    seed_everything(config.seed)
    train = [b for b in bags if b.score is not None]
    if val_bags is None:
        train, val = split_validation(train, config.validation_fraction, config.seed)
    else:
        val = [b for b in val_bags if b.score is not None]
        if not val:
            raise ValueError("the validation split is empty; add patients or raise validation_fraction")
    if not train:
        raise ValueError("no labelled training video")
    device = torch.device(config.device if config.device != "auto" else "cpu")
    dim = int(np.asarray(train[0].embeddings).shape[1])
    # the checkpoint's model_kwargs rebuild the head (ml.checkpoint.model_from_checkpoint)
    model_kwargs = {"in_features": dim, "num_classes": config.num_classes, "findings": list(config.findings),
                    **config.model_kwargs}
    model = get_model_spec(config.model, "embedding").build(**model_kwargs).to(device)
    assert isinstance(model, EmbeddingVideoScorer)
    stacked = torch.from_numpy(np.concatenate([np.asarray(b.embeddings, dtype=np.float32) for b in train]))
    model.set_normalisation(stacked.mean(0), stacked.std(0))
    data, val_data = _tensors(train, config.findings, device), _tensors(val, config.findings, device)
    counts = np.bincount([int(b.score) for b in train], minlength=config.num_classes).astype(np.float64)  # type: ignore[arg-type]
    weights = torch.tensor(len(train) / (config.num_classes * np.maximum(counts, 1)) if config.balanced
                           else np.ones(config.num_classes), dtype=torch.float32, device=device)
    soft = sord_soft_labels(data["scores"], config.num_classes, scale=config.sord_scale)
    val_soft = sord_soft_labels(val_data["scores"], config.num_classes, scale=config.sord_scale)
    history: list[dict[str, Any]] = []
    started = time.monotonic()
    if config.optimizer == "lbfgs":
        best = _fit_lbfgs(model, config, data, soft, weights, val_data, val_soft, history)
    else:
        best = _fit_adamw(model, config, data, soft, weights, val_data, val_soft, history, progress_callback,
                          should_stop)
    model.load_state_dict(best[1])
    model.eval()
    val_logits = _logits(model, val)
    val_truth = np.array([int(b.score) for b in val])  # type: ignore[arg-type]
    temperature = fit_temperature(val_logits, val_truth)
    model.set_temperature(temperature)
    predictions = bag_predictions(model, val)
    metrics = {"val_" + k: v for k, v in score_report(val_truth, np.array([p["probs"] for p in predictions]),
                                                       findings=finding_truth(val, predictions, config.findings)).items()}
    metrics.update(best_epoch=best[2], temperature=temperature, train_videos=len(train), val_videos=len(val),
                   val_patients=sorted({b.patient for b in val}))
    uninorm = None
    if config.uninorm_folds:
        uninorm = fit_uninorm(oof_predictions(config, [*train, *val]))
        metrics["uninorm"] = uninorm_state(uninorm)
    metrics["seconds"] = round(time.monotonic() - started, 2)
    checkpoint = None
    folder = config.output_folder(out_dir)
    if folder is not None:
        checkpoint = save_checkpoint(folder / "checkpoint.pt", model=model, epoch=best[2],
                                     config={**config.to_dict(), "model_kwargs": model_kwargs}, history=history,
                                     extra={"metrics": metrics}, rng=False)
    return EmbeddingTrainResult(model=model, history=history, metrics=metrics, temperature=temperature,
                                best_epoch=best[2], checkpoint=checkpoint, uninorm=uninorm)


Best = tuple[float, dict[str, torch.Tensor], int]


def _fit_adamw(model: EmbeddingVideoScorer, config: EmbeddingTrainConfig, data: dict[str, torch.Tensor],
               soft: torch.Tensor, weights: torch.Tensor, val_data: dict[str, torch.Tensor], val_soft: torch.Tensor,
               history: list[dict[str, Any]], progress_callback: ProgressCallback | None,
               should_stop: StopCallback | None) -> Best:
    """Full-batch AdamW steps, keeping the state of the lowest validation loss (early stopping)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best: Best = (float("inf"), copy.deepcopy(model.state_dict()), 0)
    for epoch in range(1, config.epochs + 1):
        if should_stop is not None and should_stop():
            raise TrainingCancelled
        model.train()
        loss, _ = _loss(model, data, soft, weights, config.findings_weight, config.l2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss, _ = _loss(model, val_data, val_soft, weights, config.findings_weight)
        record = {"epoch": epoch, "train_loss": float(loss.detach()), "val_loss": float(val_loss)}
        history.append(record)
        if record["val_loss"] < best[0]:
            best = (record["val_loss"], copy.deepcopy(model.state_dict()), epoch)
        if progress_callback is not None and (epoch % 10 == 0 or epoch == config.epochs):
            progress_callback(TrainProgress("epoch", epoch, config.epochs, 1, 1, record["train_loss"], record))
        if epoch - best[2] >= config.patience:
            break
    return best


def _fit_lbfgs(model: EmbeddingVideoScorer, config: EmbeddingTrainConfig, data: dict[str, torch.Tensor],
               soft: torch.Tensor, weights: torch.Tensor, val_data: dict[str, torch.Tensor], val_soft: torch.Tensor,
               history: list[dict[str, Any]]) -> Best:
    """The convex probe: L-BFGS on the L2-penalised loss to convergence (no dropout, no early stopping;
    validation only reports its loss and calibrates)."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=config.epochs, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = _loss(model, data, soft, weights, config.findings_weight, config.l2)
        loss.backward()
        return loss

    optimizer.step(closure)  # returns the loss before fitting, so the fitted one is computed below
    model.eval()
    with torch.no_grad():
        loss, _ = _loss(model, data, soft, weights, config.findings_weight, config.l2)
        val_loss, _ = _loss(model, val_data, val_soft, weights, config.findings_weight)
    history.append({"epoch": 1, "train_loss": float(loss), "val_loss": float(val_loss)})
    return float(val_loss), copy.deepcopy(model.state_dict()), 1


@torch.no_grad()
def _logits(model: EmbeddingVideoScorer, bags: Sequence[VideoBag]) -> np.ndarray:
    device = model.temperature.device
    x, mask = pad_bags([torch.from_numpy(np.asarray(b.embeddings, dtype=np.float32)) for b in bags])
    return model(x.to(device), mask.to(device)).logits.float().cpu().numpy()


@torch.no_grad()
def bag_predictions(model: EmbeddingVideoScorer, bags: Sequence[VideoBag], *, batch: int = 64) -> list[dict[str, Any]]:
    """Per video: calibrated ``probs``, ``pred``, ``findings`` {code: P(present)}, and per frame
    ``frames`` (indices) with ``frame_probs`` (calibrated per-frame severity probabilities)."""
    model.eval()
    device = model.temperature.device
    out: list[dict[str, Any]] = []
    for start in range(0, len(bags), batch):
        chunk = bags[start:start + batch]
        x, mask = pad_bags([torch.from_numpy(np.asarray(b.embeddings, dtype=np.float32)) for b in chunk])
        result = model(x.to(device), mask.to(device))
        probs = result.probs().cpu().numpy()
        frame_probs = result.instance_probs().cpu().numpy()
        finding_probs = result.finding_probs()
        for i, bag in enumerate(chunk):
            n = len(bag.frames)
            out.append({
                "video": bag.video, "probs": probs[i].tolist(), "pred": int(probs[i].argmax()),
                "findings": ({code: float(finding_probs[i, j]) for j, code in enumerate(model.findings)}
                             if finding_probs is not None else {}),
                "frames": [int(f) for f in bag.frames], "frame_probs": frame_probs[i, :n].tolist(),
            })
    return out


def finding_truth(bags: Sequence[VideoBag], predictions: Sequence[dict[str, Any]],
                  findings: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{finding: (present (N,), predicted probability (N,))} over the videos whose finding is known: what
    :func:`ml.metrics.scoring.score_report` takes for the findings' AUC."""
    truth = {}
    for code in findings:
        rows = [(b.findings[code], p["findings"].get(code, np.nan)) for b, p in zip(bags, predictions, strict=True)
                if code in b.findings]
        if rows:
            truth[code] = (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    return truth


def patient_folds(labelled: Sequence[VideoBag], k: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """The recipe's patient-level folds over labelled bags, stratified by each patient's worst score (what
    :func:`cross_validate` and the hyper-parameter search (:mod:`ml.search`) both use)."""
    worst = patient_max_scores([b.patient for b in labelled], [int(b.score) for b in labelled])  # type: ignore[arg-type]
    patients = sorted(worst)
    return patient_kfold(patients, min(k, len(patients)), seed, labels=[worst[p] for p in patients])


def oof_predictions(config: EmbeddingTrainConfig, bags: Sequence[VideoBag]) -> list[dict[str, Any]]:
    """Out-of-fold :func:`bag_predictions` of every labelled bag (with its ``score``): inner patient-level
    ``config.uninorm_folds``-fold CV, each fold's head trained (with its own validation) on the others."""
    labelled = [b for b in bags if b.score is not None]
    inner = dataclasses.replace(config, uninorm_folds=0)
    by_video: dict[str, dict[str, Any]] = {}
    for index, (_, held_patients) in enumerate(patient_folds(labelled, config.uninorm_folds, config.seed)):
        held = set(held_patients)
        test = [b for b in labelled if b.patient in held]
        result = train_embedding_model(dataclasses.replace(inner, seed=config.seed + 100 + index),
                                       [b for b in labelled if b.patient not in held])
        for bag, prediction in zip(test, bag_predictions(result.model, test), strict=True):
            by_video[bag.video] = {**prediction, "score": int(bag.score)}  # type: ignore[arg-type]
    return [by_video[b.video] for b in labelled]


def fit_uninorm(predictions: Sequence[dict[str, Any]]) -> UninormAggregator:
    """The paper's uninorm aggregator fitted on predictions' ``frame_probs`` against their ``score``."""
    aggregator = UninormAggregator()
    fit_aggregator(aggregator, [torch.tensor(p["frame_probs"], dtype=torch.float32) for p in predictions],
                   torch.tensor([int(p["score"]) for p in predictions]))
    return aggregator


def uninorm_state(aggregator: UninormAggregator) -> dict[str, Any]:
    """A JSON description of a fitted uninorm (stored in the metrics); :func:`uninorm_from_state` rebuilds it."""
    return {"neutral": [float(v) for v in aggregator.neutral_elements().detach()], "tnorm": aggregator.tnorm,
            "off_diagonal": aggregator.off_diagonal}


def uninorm_from_state(state: dict[str, Any]) -> UninormAggregator:
    aggregator = UninormAggregator(len(state["neutral"]), tnorm=state["tnorm"], off_diagonal=state["off_diagonal"])
    with torch.no_grad():
        aggregator.neutral.copy_(torch.tensor(state["neutral"]))
    return aggregator.eval()


@torch.no_grad()
def frame_aggregate_probs(predictions: Sequence[dict[str, Any]], aggregator: UninormAggregator | None = None) -> np.ndarray:
    """``(N, C)`` video probabilities from each prediction's ``frame_probs``: their mean (argmax_mean), or the
    softmax of the uninorm's aggregates (the paper's reading of them as logits). On long videos aggregates
    saturate to exact 0 or 1 ties; a 1e-6 nudge by the exact order key (:meth:`UninormAggregator.order_key`)
    makes the argmax the aggregator's own prediction."""
    if aggregator is None:
        return np.array([np.mean(p["frame_probs"], axis=0) for p in predictions])
    out = []
    for p in predictions:
        frames = torch.tensor(p["frame_probs"], dtype=torch.float32).clamp(0, 1)[None]
        result = aggregator.log_aggregate(frames)
        rank = result.key[0].argsort().argsort().double()
        out.append(torch.softmax(result.a[0].double() + 1e-6 * rank, 0).numpy())
    return np.array(out)


def cross_validate(config: EmbeddingTrainConfig, bags: Sequence[VideoBag], *, k: int = 5,
                   seed: int = 0) -> dict[str, Any]:
    """Patient-level k-fold CV of the recipe: mean and std of each metric over the folds, the pooled
    report and every video's out-of-fold prediction. Each fold trains with its own inner validation.
    With ``uninorm_folds`` the frame probabilities' ``argmax_mean`` and the fold's uninorm (fitted on its
    inner out-of-fold predictions) are reported too, under ``aggregators``."""
    labelled = [b for b in bags if b.score is not None]
    folds = patient_folds(labelled, k, seed)
    per_fold, oof = [], []
    per_aggregator: dict[str, list[dict[str, Any]]] = {"argmax_mean": [], "uninorm": []}
    for index, (_, test_patients) in enumerate(folds):
        held = set(test_patients)
        test = [b for b in labelled if b.patient in held]
        result = train_embedding_model(dataclasses.replace(config, seed=config.seed + index),
                                       [b for b in labelled if b.patient not in held])
        predictions = bag_predictions(result.model, test)
        truth = np.array([int(b.score) for b in test])  # type: ignore[arg-type]
        per_fold.append(score_report(truth, np.array([p["probs"] for p in predictions]),
                                     findings=finding_truth(test, predictions, config.findings)))
        if result.uninorm is not None:
            per_aggregator["argmax_mean"].append(score_report(truth, frame_aggregate_probs(predictions)))
            per_aggregator["uninorm"].append(score_report(truth, frame_aggregate_probs(predictions, result.uninorm)))
        oof += [{**p, "score": int(b.score), "patient": b.patient, "fold": index}  # type: ignore[arg-type]
                for b, p in zip(test, predictions, strict=True)]
    summary: dict[str, Any] = {"folds": len(folds), "per_fold": per_fold, **_mean_std(per_fold)}
    if config.uninorm_folds:
        summary["aggregators"] = {name: {"per_fold": reports, **_mean_std(reports)}
                                  for name, reports in per_aggregator.items()}
    pooled_truth = np.array([p["score"] for p in oof])
    summary["pooled"] = score_report(pooled_truth, np.array([p["probs"] for p in oof]))
    summary["predictions"] = oof
    return summary


def _mean_std(reports: Sequence[dict[str, Any]]) -> dict[str, float]:
    out = {}
    for key in reports[0]:
        values = [f[key] for f in reports if isinstance(f.get(key), float | int)]
        if values and key != "n_videos":
            out[f"{key}_mean"], out[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
    return out
