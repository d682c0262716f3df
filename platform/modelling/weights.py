"""Model weights as local files: workers and activation need a path, storage may be remote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.media_cache import local_path, media_session

from .models import ModelKind, ModelVersion

if TYPE_CHECKING:  # torch is imported where a model is loaded
    from torch import nn


@contextmanager
def local_weights(version: ModelVersion) -> Iterator[Path]:
    """A local path to the version's weights: the file itself on a folder storage, else this worker's cached
    copy (core.media_cache: checked against the stored object, kept while the job runs)."""
    if not version.weights:
        raise ValueError(f"model version {version.pk} has no weights file")
    with media_session():
        yield local_path(str(version.weights.name))


def load_version(version: ModelVersion, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode, config) of a version of any kind; ValueError if unusable.

    Frame scorers, segmentation ensembles and CNN-LSTMs are registry models in a Pleura checkpoint; an
    aggregator is its own small file."""
    from ml.inference import load_aggregator, load_frame_scorer

    try:
        with local_weights(version) as path:
            if version.kind in (ModelKind.EMBEDDING, ModelKind.FRAME_SCORER, ModelKind.SEGMENTATION,
                                ModelKind.SEQUENCE):
                return load_frame_scorer(path, device=device)
            if version.kind == ModelKind.AGGREGATOR:
                return load_aggregator(path), dict(version.config)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as error:  # torch raises many kinds for a corrupt file
        raise ValueError(f"model version {version.pk}: weights cannot be loaded ({error})") from error
    raise ValueError(f"loading {version.kind} models is not available yet")
