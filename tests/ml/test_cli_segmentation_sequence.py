"""`python -m ml.train segmentation|sequence` and `python -m ml.predict` on their checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from ml.phantom import generate_phantom_video
from ml.predict import main as predict_main
from ml.train import main as train_main
from tests.ml.tiny_models import TINY_SEGMENTERS, TINY_SEQUENCE

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("two_threads")]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """Two patients x one 6-frame phantom video; image rows with relative mask paths."""
    folder = tmp_path_factory.mktemp("cli")
    lines = []
    for v in range(2):
        video = generate_phantom_video(seed=v, n_frames=6, height=64, width=80)
        for t in range(6):
            cv2.imwrite(str(folder / f"f{v}_{t}.png"), video.frames[t])
            cv2.imwrite(str(folder / f"m{v}_{t}.png"), video.masks[t])
            lines.append(json.dumps({"image": f"f{v}_{t}.png", "mask": f"m{v}_{t}.png", "patient": f"p{v}",
                                     "video": f"v{v}", "score": int(video.scores[t]), "index": t}))
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_segmentation_train_and_predict(manifest: Path, tmp_path: Path, capsys):
    kwargs = {k: TINY_SEGMENTERS[k] for k in ("unet_roy", "unet_plusplus")}
    assert train_main(["segmentation", "--manifest", str(manifest), "--val-manifest", str(manifest),
                       "--models", "unet_roy", "unet_plusplus", "--model-kwargs", json.dumps(kwargs),
                       "--epochs", "1", "--batch-size", "4", "--steps-per-epoch", "2", "--size", "40", "60",
                       "--device", "cpu", "--mc-samples", "3", "--out", str(tmp_path / "run")]) == 0
    assert "ensemble_dice_union" in capsys.readouterr().out
    out = tmp_path / "masks"
    assert predict_main(["--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--manifest", str(manifest),
                         "--out", str(out), "--quiet"]) == 0
    index = [json.loads(line) for line in (out / "segmentations.jsonl").read_text().splitlines()]
    assert len(index) == 12 and index[0]["video"] == "v0"
    mask = cv2.imread(str(out / index[0]["mask"]), cv2.IMREAD_UNCHANGED)
    uncertainty = cv2.imread(str(out / index[0]["uncertainty"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == uncertainty.shape == (64, 80) and mask.max() <= 4


def test_sequence_train_and_predict(manifest: Path, tmp_path: Path):
    assert train_main(["sequence", "--manifest", str(manifest), "--model", "densenet_lstm", "--model-kwargs",
                       json.dumps(TINY_SEQUENCE["densenet_lstm"]), "--window", "3", "--stride", "3", "--epochs", "1",
                       "--size", "48", "48", "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    preds = tmp_path / "preds.jsonl"
    assert predict_main(["--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--manifest", str(manifest),
                         "--out", str(preds), "--quiet"]) == 0
    frames = [json.loads(line) for line in preds.read_text().splitlines()]
    videos = [json.loads(line) for line in (tmp_path / "preds.videos.jsonl").read_text().splitlines()]
    assert len(frames) == 12 and len(videos) == 2 and {v["video"] for v in videos} == {"v0", "v1"}


def test_frame_cli_refuses_other_tasks(manifest: Path, tmp_path: Path):
    with pytest.raises(SystemExit):
        train_main(["frame", "--manifest", str(manifest), "--model", "unet_roy", "--out", str(tmp_path)])
