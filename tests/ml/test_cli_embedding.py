"""`python -m ml.train embedding`: the recommended recipe from a COVID-BLUeS-layout folder, end to end
(cached embeddings, patient-level CV, the final calibrated head and its metrics.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.checkpoint import model_from_checkpoint
from ml.models import EmbeddingVideoScorer
from ml.train import main as train_main
from tests.ml.test_cli_manifest import folder  # noqa: F401 - the tiny COVID-BLUeS folder fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_embedding_recipe_from_a_folder(folder: Path, tmp_path: Path, capsys):  # noqa: F811
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["embedding", "--data", str(folder), "--out", str(out), "--cache", str(cache), "--size", "32",
            "--frame-step", "2", "--threads", "1", "--quiet"]
    assert train_main([*args, "--cv", "0"]) == 0
    assert "checkpoint:" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "cv" not in metrics and metrics["metrics"]["temperature"] > 0
    model = model_from_checkpoint(out / "checkpoint.pt")
    assert isinstance(model, EmbeddingVideoScorer) and model.findings == ("a_lines", "b_lines")
    cached = sorted((cache / "efficientnet_lite0-imagenet-32").glob("*.npz"))
    assert len(cached) == 8  # one file per scored video
    mtimes = [p.stat().st_mtime_ns for p in cached]
    # CV folds of 4 patients leave 2 per training fold: too few to hold validation patients out
    assert train_main([*args, "--cv", "2"]) == 2
    assert "at least 3 patients" in capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in cached] == mtimes  # the second run reused every embedding


def test_embedding_recipe_refuses_too_few_patients(tmp_path: Path, capsys):
    assert train_main(["embedding", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err
