"""Model weights as local files: workers and activation need a path, storage may be remote."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .models import ModelKind, ModelVersion


@contextmanager
def local_weights(version: ModelVersion) -> Iterator[Path]:
    """A local path to the version's weights (the file itself on a folder storage, else a temp copy)."""
    if not version.weights:
        raise ValueError(f"model version {version.pk} has no weights file")
    try:
        yield Path(version.weights.path)
        return
    except NotImplementedError:
        pass
    with version.weights.open("rb") as source, tempfile.NamedTemporaryFile(suffix=".pt") as copy:
        shutil.copyfileobj(source, copy)
        copy.flush()
        yield Path(copy.name)


def load_version(version: ModelVersion, device: str = "cpu") -> tuple[object, dict]:
    """(model in eval mode, config) of a version of any kind; ValueError if unusable.

    Frame scorers, segmentation ensembles and CNN-LSTMs are registry models in a Pleura checkpoint; an
    aggregator is its own small file."""
    from ml.predict import load_frame_scorer
    from ml.train import load_aggregator

    try:
        with local_weights(version) as path:
            if version.kind in (ModelKind.FRAME_SCORER, ModelKind.SEGMENTATION, ModelKind.CNN_LSTM):
                return load_frame_scorer(path, device=device)
            if version.kind == ModelKind.AGGREGATOR:
                return load_aggregator(path), dict(version.config)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as error:  # torch raises many kinds for a corrupt file
        raise ValueError(f"model version {version.pk}: weights cannot be loaded ({error})") from error
    raise ValueError(f"loading {version.kind} models is not available yet")
