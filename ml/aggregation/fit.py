"""Batching variable-length videos and fitting a :class:`UninormAggregator` to video labels.

Training follows the paper / its reference code: SORD soft labels on the video score, Adam (lr 1e-2),
the gradients of *all* training videos accumulated into one optimiser step per epoch (full batch), the
neutral elements projected back into ``[0, 1]`` after each step, and early stopping on the training loss.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ml.losses.sord import soft_cross_entropy, sord_soft_labels

from .uninorm import UninormAggregator

__all__ = ["fit_aggregator", "pad_videos"]

# Upper bound on padded elements (videos x frames x classes) evaluated at once while fitting.
_CHUNK_ELEMENTS = 1 << 22


def pad_videos(videos: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Stack videos of different lengths: list of ``(T_i, C)`` -> ``(B, T_max, C)`` and mask ``(B, T_max)``.

    Padding is 0 and the mask is ``True`` on real frames. The output uses the first video's dtype and
    device.

    Raises:
        ValueError: on an empty list, a video that is not 2-D or has no frames, or differing ``C``.
    """
    if len(videos) == 0:
        raise ValueError("pad_videos needs at least one video")
    first = videos[0]
    for i, v in enumerate(videos):
        if not isinstance(v, Tensor) or v.dim() != 2:
            raise ValueError(f"video {i} must be a (T, C) tensor, got {getattr(v, 'shape', type(v))}")
        if v.shape[0] == 0:
            raise ValueError(f"video {i} has no frames")
        if v.shape[1] != first.shape[1]:
            raise ValueError(f"video {i} has {v.shape[1]} classes, video 0 has {first.shape[1]}")
    lengths = torch.tensor([v.shape[0] for v in videos], device=first.device)
    padded = torch.nn.utils.rnn.pad_sequence(
        [v.to(dtype=first.dtype, device=first.device) for v in videos], batch_first=True
    )
    mask = torch.arange(padded.shape[1], device=first.device).unsqueeze(0) < lengths.unsqueeze(1)
    return padded, mask


def _chunks(
    videos: Sequence[Tensor], labels: Tensor, num_classes: int
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Group videos by length into padded chunks of bounded size: ``[(x, mask, labels), ...]``."""
    order = sorted(range(len(videos)), key=lambda i: videos[i].shape[0])
    chunks: list[tuple[Tensor, Tensor, Tensor]] = []
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * videos[order[stop]].shape[0] * num_classes <= (
            _CHUNK_ELEMENTS
        ):
            stop += 1
        idx = order[start:stop]
        x, mask = pad_videos([videos[i] for i in idx])
        chunks.append((x, mask, labels[torch.tensor(idx, device=labels.device)]))
        start = stop
    return chunks


def fit_aggregator(
    model: UninormAggregator,
    videos: Sequence[Tensor],
    labels: Tensor,
    *,
    max_epochs: int = 500,
    lr: float = 1e-2,
    patience: int = 20,
    sord_scale: float = 1.0,
    progress: Callable[[int, float], None] | None = None,
) -> dict:
    """Fit the neutral elements of ``model`` in place; the best-loss parameters are restored at the end.

    Args:
        model: the aggregator to train.
        videos: ``N`` tensors ``(T_i, C)`` of frame probabilities in ``[0, 1]``.
        labels: ``(N,)`` integer video scores in ``[0, C)``.
        max_epochs: maximum number of epochs (= optimiser steps).
        lr: Adam learning rate.
        patience: stop after this many epochs without a lower training loss.
        sord_scale: ``scale`` of the SORD soft labels.
        progress: optional callback ``(epoch, loss)`` called after every epoch (1-based).

    Returns:
        History dict: ``loss`` and ``accuracy`` (per-epoch lists, measured before that epoch's step),
        ``neutral`` (per-epoch ``(C,)`` lists), ``records`` (per-epoch dicts ``epoch`` / ``train_loss`` /
        ``train_accuracy``, ready for :func:`ml.metrics.write_report`), ``best_epoch`` (1-based),
        ``best_loss``, ``epochs`` and ``stopped_early``.

    Raises:
        ValueError: on bad arguments, mismatched videos / labels, or invalid frame probabilities.
    """
    if not isinstance(model, UninormAggregator):
        raise ValueError(f"model must be a UninormAggregator, got {type(model).__name__}")
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"max_epochs must be an int >= 1, got {max_epochs!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be an int >= 1, got {patience!r}")
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.shape[0] != len(videos):
        raise ValueError(
            f"labels must be a 1-D tensor with one label per video ({len(videos)}), got "
            f"{getattr(labels, 'shape', type(labels))}"
        )
    if len(videos) == 0:
        raise ValueError("fit_aggregator needs at least one video")
    if model.num_classes < 2:
        raise ValueError("fit_aggregator needs a model with at least 2 classes")
    device = model.neutral.device
    labels = labels.to(device)
    # Validates labels and sord_scale once, up front.
    sord_soft_labels(labels, model.num_classes, scale=sord_scale)
    videos = [v.to(device) for v in videos]
    chunks = _chunks(videos, labels, model.num_classes)
    for x, mask, _ in chunks:
        model.validate_inputs(x, mask)
    n_total = float(len(videos))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict = {"loss": [], "accuracy": [], "neutral": [], "records": []}
    best_loss, best_epoch, best_state, bad_epochs = math.inf, 0, copy.deepcopy(model.state_dict()), 0
    stopped_early = False
    model.train()
    for epoch in range(1, max_epochs + 1):
        optimizer.zero_grad(set_to_none=True)
        total_loss, correct = 0.0, 0
        for x, mask, y in chunks:
            agg = model.log_aggregate(x, mask)
            q = sord_soft_labels(y, model.num_classes, scale=sord_scale)
            loss = soft_cross_entropy(agg.a, q.to(agg.a.dtype))
            (loss * (y.shape[0] / n_total)).backward()
            total_loss += float(loss.detach()) * y.shape[0]
            correct += int((agg.key.argmax(dim=1) == y).sum())
        epoch_loss = total_loss / n_total
        accuracy = correct / n_total
        history["loss"].append(epoch_loss)
        history["accuracy"].append(accuracy)
        history["neutral"].append(model.neutral_elements().detach().cpu().tolist())
        history["records"].append({"epoch": epoch, "train_loss": epoch_loss, "train_accuracy": accuracy})
        if progress is not None:
            progress(epoch, epoch_loss)
        if epoch_loss < best_loss:
            best_loss, best_epoch, bad_epochs = epoch_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                stopped_early = True
                break
        optimizer.step()
        model.clamp_parameters()
    model.load_state_dict(best_state)
    model.eval()
    history.update(
        best_epoch=best_epoch, best_loss=best_loss, epochs=len(history["loss"]), stopped_early=stopped_early
    )
    return history
