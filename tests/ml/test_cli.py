"""End-to-end: train frame -> predict -> train aggregator -> evaluate, on a tiny self-made manifest.

Also: checkpoint / resume gives the same state as an uninterrupted run, seeds make runs repeatable, and the
programmatic API reports progress and honours cooperative cancellation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ml import evaluate as evaluate_cli
from ml import predict as predict_cli
from ml import train as train_cli
from ml.checkpoint import load_checkpoint
from ml.data import read_manifest
from ml.inference import predict_frames
from ml.training import FrameTrainConfig, TrainProgress, train_aggregator, train_frame_scorer

ROOT = Path(__file__).resolve().parents[2]


def _frame(rng: np.random.Generator, score: int, h: int = 40, w: int = 48) -> np.ndarray:
    img = rng.integers(0, 30, (h, w)).astype(np.uint8)
    img[h // 5 : h // 5 + 2] = 200  # pleural line
    for i in range(score * 2):  # more vertical streaks for higher scores
        x = 4 + i * 5
        img[h // 5 :, x : x + 2] = 170
    return img


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lus")
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for p in range(4):
        for v in range(2):
            video_id = f"p{p}_v{v}"
            score = (p + v) % 4
            if v == 0:  # an mp4 whose second half has a higher score (a transition for Setting 2)
                scores = [score] * 4 + [min(3, score + 1)] * 4
                frames = np.stack([_frame(rng, s) for s in scores])
                path = root / f"{video_id}.mp4"
                vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (48, 40), True)
                for f in frames:
                    vw.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
                vw.release()
                rows += [
                    {"video": path.name, "frame": t, "score": s, "patient": f"p{p}", "video_id": video_id}
                    for t, s in enumerate(scores)
                ]
                labels.append((video_id, max(scores)))
            else:  # PNG frames
                (root / video_id).mkdir()
                for t in range(4):
                    cv2.imwrite(str(root / video_id / f"{t}.png"), _frame(rng, score))
                    rows.append(
                        {
                            "image": f"{video_id}/{t}.png",
                            "score": score,
                            "patient": f"p{p}",
                            "video": video_id,
                        }
                    )
                labels.append((video_id, score))
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "labels.csv").write_text("video,score\n" + "".join(f"{v},{s}\n" for v, s in labels))
    return root


def _train_args(dataset: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return [
        "frame", "--manifest", str(dataset / "manifest.jsonl"), "--model", "reg_stn", "--epochs", str(epochs),
        "--batch-size", "8", "--size", "32", "32", "--out", str(out), "--seed", "0", "--quiet", *extra,
    ]  # fmt: skip


def _state(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_pipeline_end_to_end(dataset: Path, tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert (
        train_cli.main(_train_args(dataset, run, 2, "--val-manifest", str(dataset / "manifest.jsonl"))) == 0
    )
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    assert {"optimizer", "scheduler", "config", "rng"} <= set(ckpt)
    assert ckpt["config"]["model"] == "reg_stn" and ckpt["config"]["size"] == [32, 32]
    assert "val_f1_weighted" in ckpt["history"][-1]
    assert (run / "best.pt").exists() and (run / "config.json").exists()
    assert list(run.glob("*.json")) and list(run.glob("*.png"))

    preds = tmp_path / "preds.jsonl"
    assert predict_cli.main(["--checkpoint", str(run / "checkpoint.pt"), "--manifest", str(dataset / "manifest.jsonl"),
                             "--out", str(preds), "--quiet"]) == 0  # fmt: skip
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert len(lines) == len(read_manifest(dataset / "manifest.jsonl")) == 48
    for row in lines:
        assert len(row["probs"]) == 4 and abs(sum(row["probs"]) - 1) < 1e-4
        assert np.asarray(row["box1"]).shape == (4, 2) and np.asarray(row["box2"]).shape == (4, 2)
        box = np.asarray(row["box1"])
        # boxes are in original-frame pixels (48 x 40), around the frame
        assert (
            box[:, 0].min() > -10 and box[:, 0].max() < 58 and box[:, 1].min() > -10 and box[:, 1].max() < 50
        )

    agg = tmp_path / "agg"
    assert train_cli.main(["aggregator", "--predictions", str(preds), "--labels", str(dataset / "labels.csv"),
                           "--out", str(agg), "--max-epochs", "30", "--quiet"]) == 0  # fmt: skip
    assert (agg / "aggregator.pt").exists()

    preds2 = tmp_path / "preds2.jsonl"
    assert predict_cli.main(["--checkpoint", str(run / "checkpoint.pt"), "--manifest", str(dataset / "manifest.jsonl"),
                             "--out", str(preds2), "--aggregator", str(agg / "aggregator.pt"), "--quiet"]) == 0  # fmt: skip
    videos = [json.loads(x) for x in (tmp_path / "preds2.videos.jsonl").read_text().splitlines()]
    assert len(videos) == 8 and all(0 <= v["pred"] <= 3 and len(v["probs"]) == 4 for v in videos)

    ev = tmp_path / "eval"
    assert evaluate_cli.main(["--predictions", str(preds), "--manifest", str(dataset / "manifest.jsonl"),
                              "--out", str(ev), "--setting2-k", "1", "2",
                              "--aggregator", str(agg / "aggregator.pt")]) == 0  # fmt: skip
    metrics = json.loads((ev / "metrics.json").read_text())
    metrics = metrics.get("metrics", metrics)
    assert 0 <= metrics["frame"]["f1_weighted"] <= 1 and 0 <= metrics["frame"]["f1_macro"] <= 1
    assert set(metrics["setting2"]) == {"1", "2"}
    # k=1 drops the two frames around each of the 4 transitions
    assert metrics["setting2"]["1"]["n"] < metrics["frame"]["n"]
    assert {"uninorm", "max_argmax", "argmax_mean"} <= set(metrics["video"])
    assert (ev / "confusions.json").exists() and list(ev.glob("*.png"))
    assert "F1 weighted" in capsys.readouterr().out


def test_resume_continues_at_the_right_epoch_with_identical_state(dataset: Path, tmp_path: Path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli.main(_train_args(dataset, straight, 2)) == 0
    assert train_cli.main(_train_args(dataset, split, 1)) == 0
    assert load_checkpoint(split / "checkpoint.pt")["epoch"] == 1
    first = load_checkpoint(split / "checkpoint.pt")
    assert train_cli.main(_train_args(dataset, split, 2, "--resume", str(split / "checkpoint.pt"))) == 0
    resumed = load_checkpoint(split / "checkpoint.pt")
    assert resumed["epoch"] == 2 and len(resumed["history"]) == 2
    assert resumed["history"][0] == first["history"][0]
    a, b = _state(straight / "checkpoint.pt"), _state(split / "checkpoint.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (
        resumed["history"][1]["train_loss"]
        == load_checkpoint(straight / "checkpoint.pt")["history"][1]["train_loss"]
    )


def test_seeds_make_runs_repeatable(dataset: Path):
    rows = read_manifest(dataset / "manifest.jsonl")
    cfg = {"model": "reg_stn_fixed", "epochs": 1, "batch_size": 8, "size": (32, 32), "seed": 3}
    r1 = train_frame_scorer(cfg, rows)
    r2 = train_frame_scorer(cfg, rows)
    r3 = train_frame_scorer({**cfg, "seed": 4}, rows)
    s1, s2, s3 = (r.model.state_dict() for r in (r1, r2, r3))
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert r1.history == [{**h, "time_s": r1.history[0]["time_s"]} for h in r2.history]


def test_progress_and_cooperative_cancel(dataset: Path, tmp_path: Path):
    rows = read_manifest(dataset / "manifest.jsonl")
    events: list[TrainProgress] = []
    cfg = FrameTrainConfig(model="cnn_sord", epochs=2, batch_size=8, size=(32, 32))
    res = train_frame_scorer(cfg, rows, val_rows=rows, progress_callback=events.append)
    phases = [e.phase for e in events]
    assert phases.count("epoch") == 2 and phases.count("val") == 2 and phases.count("train") == 2 * 6
    assert events[0].steps == 6 and events[-1].metrics is not None and "val_f1_weighted" in events[-1].metrics
    assert not res.cancelled and len(res.history) == 2

    calls = {"n": 0}

    def stop_in_epoch_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    res = train_frame_scorer(cfg, rows, out_dir=tmp_path / "c", should_stop=stop_in_epoch_two)
    assert res.cancelled and len(res.history) == 1  # epoch 1 finished (6 batches), epoch 2 abandoned
    assert load_checkpoint(tmp_path / "c" / "checkpoint.pt")["epoch"] == 1


def test_training_needs_labels_and_valid_config(dataset: Path):
    rows = read_manifest(dataset / "manifest.jsonl")
    with pytest.raises(ValueError, match="unknown model"):
        FrameTrainConfig(model="nope")
    with pytest.raises(ValueError):
        FrameTrainConfig(size=(16, 16))
    from dataclasses import replace

    with pytest.raises(ValueError, match="no score"):
        train_frame_scorer(FrameTrainConfig(epochs=1, size=(32, 32)), [replace(rows[0], score=None)])


def test_aggregator_api_and_predict_boxes_for_full_frame_model(dataset: Path):
    rows = read_manifest(dataset / "manifest.jsonl")
    res = train_frame_scorer({"model": "cnn_sord", "epochs": 1, "batch_size": 16, "size": (32, 32)}, rows)
    preds = predict_frames(res.model, rows, size=(32, 32))
    assert all(p["box1"] is None and p["box2"] is None for p in preds)
    labels = {r.video: 1 for r in rows}
    agg = train_aggregator({"max_epochs": 5}, preds, labels)
    assert len(agg.videos) == 8 and not agg.cancelled
    with pytest.raises(ValueError, match="label"):
        train_aggregator({"max_epochs": 5}, preds, {})


def test_cli_help():
    proc = subprocess.run(
        [sys.executable, "-m", "ml.train", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "frame" in proc.stdout and "aggregator" in proc.stdout
    for main in (predict_cli.main, evaluate_cli.main):
        with pytest.raises(SystemExit) as exc:
            main(["--help"])
        assert exc.value.code == 0
