"""Video-level aggregation of frame predictions: the paper's uninorm layer and its baselines.

``AGGREGATORS`` maps a name to the aggregator: the :class:`UninormAggregator` class (learned; build it,
fit it with :func:`fit_aggregator`, then call ``predict``) or a baseline function
``(frame_probs (B, T, C), mask (B, T) | None) -> (B,)`` video scores.
"""

from collections.abc import Callable
from typing import Any

from .baselines import argmax_mean, max_argmax
from .fit import fit_aggregator, pad_videos
from .uninorm import (
    OFF_DIAGONAL_RULES,
    TNORMS,
    LogAggregate,
    OffDiagonal,
    TNorm,
    UninormAggregator,
    uninorm_log_aggregate,
)

AGGREGATORS: dict[str, Callable[..., Any]] = {
    "uninorm": UninormAggregator,
    "max_argmax": max_argmax,
    "argmax_mean": argmax_mean,
}

__all__ = [
    "AGGREGATORS",
    "OFF_DIAGONAL_RULES",
    "TNORMS",
    "LogAggregate",
    "OffDiagonal",
    "TNorm",
    "UninormAggregator",
    "argmax_mean",
    "fit_aggregator",
    "max_argmax",
    "pad_videos",
    "uninorm_log_aggregate",
]
