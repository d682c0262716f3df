"""The researcher's options of `python -m ml.train` / `ml.predict`: defaults from the training configs,
`--threads`, one line per epoch and `metrics.json` with the history for every trainer, the sequence
trainer's options, video labels attached by `ml.predict`, and the aggregator's one-class warning."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ml import train as train_cli
from ml.predict import main as predict_main
from ml.train import main as train_main
from ml.training import (
    AggregatorTrainConfig,
    FrameTrainConfig,
    SegTrainConfig,
    SequenceTrainConfig,
    train_aggregator,
)
from tests.ml.tiny_models import TINY_SEQUENCE

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("two_threads")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """4 patients x one 6-frame video of PNG frames (score = patient % 4, more streaks for higher scores),
    a manifest and a video-labels CSV with non-default column names."""
    root = tmp_path_factory.mktemp("opts")
    rng = np.random.default_rng(0)
    lines = []
    for p in range(4):
        for t in range(6):
            img = rng.integers(0, 30, (40, 40)).astype(np.uint8)
            img[8:10] = 200
            for i in range(2 * (p % 4)):
                img[8:, 4 + 5 * i : 6 + 5 * i] = 170
            cv2.imwrite(str(root / f"p{p}_{t}.png"), img)
            lines.append(json.dumps({"image": f"p{p}_{t}.png", "score": p % 4, "patient": f"p{p}", "video": f"v{p}"}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (root / "labels.csv").write_text("vid,severity\n" + "".join(f"v{p},{p % 4}\n" for p in range(4)))
    return root


def _parse(*argv: str):
    return train_cli.build_parser().parse_args(list(argv))


def test_cli_defaults_are_the_training_configs_defaults():
    assert train_cli.frame_config(_parse("frame", "--manifest", "m", "--out", "o")) == FrameTrainConfig()
    assert train_cli.sequence_config(_parse("sequence", "--manifest", "m", "--out", "o")) == SequenceTrainConfig()
    assert train_cli.segmentation_config(_parse("segmentation", "--manifest", "m", "--out", "o")) == SegTrainConfig()
    assert train_cli.aggregator_config(_parse("aggregator", "--predictions", "p", "--out", "o")) == (
        AggregatorTrainConfig())
    for command, config in (("frame", FrameTrainConfig), ("sequence", SequenceTrainConfig),
                            ("segmentation", SegTrainConfig)):
        args = _parse(command, "--manifest", "m", "--out", "o")
        assert tuple(args.size) == config().size and args.threads is None


def test_frame_predict_aggregator_evaluate_with_threads_epoch_lines_and_labels(dataset: Path, tmp_path: Path,
                                                                               capsys):
    from ml.evaluate import main as evaluate_main

    run = tmp_path / "fs"
    assert train_main(["frame", "--manifest", str(dataset / "manifest.jsonl"), "--model", "cnn_sord", "--epochs", "2",
                       "--batch-size", "8", "--size", "32", "32", "--val-manifest", str(dataset / "manifest.jsonl"),
                       "--out", str(run), "--threads", "1", "--quiet"]) == 0
    assert torch.get_num_threads() == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and "val_f1_weighted=" in lines[1]
    report = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in report["history"]] == [1, 2] and "val_f1_macro" in report["history"][0]

    torch.set_num_threads(2)
    preds = tmp_path / "preds.jsonl"
    assert predict_main(["--checkpoint", str(run / "checkpoint.pt"), "--manifest", str(dataset / "manifest.jsonl"),
                         "--out", str(preds), "--threads", "1", "--quiet", "--video-labels", str(dataset / "labels.csv"),
                         "--video-column", "vid", "--score-column", "severity"]) == 0
    assert torch.get_num_threads() == 1
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [r["video_score"] for r in rows] == [int(r["video"][1:]) % 4 for r in rows]

    agg = tmp_path / "agg"
    assert train_main(["aggregator", "--predictions", str(preds), "--out", str(agg), "--max-epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == ["1/3", "2/3", "3/3"]
    report = json.loads((agg / "metrics.json").read_text())
    assert len(report["history"]) == 3 and report["num_videos"] == 4  # labels taken from the predictions
    assert sum(report["train_predictions"].values()) == 4 and isinstance(report["warnings"], list)

    torch.set_num_threads(2)
    assert evaluate_main(["--predictions", str(preds), "--manifest", str(dataset / "manifest.jsonl"),
                          "--out", str(tmp_path / "eval"), "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1


def test_aggregator_warns_when_it_predicts_one_class_for_every_video(tmp_path: Path, capsys):
    preds = tmp_path / "preds.jsonl"
    rows = [{"key": f"v{v}#{t}", "video": f"v{v}", "frame": t, "probs": [0.25, 0.25, 0.25, 0.25]}
            for v in range(4) for t in range(3)]  # uniform frames: nothing tells the videos apart
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "labels.csv").write_text("video,score\nv0,0\nv1,1\nv2,2\nv3,3\n")
    assert train_main(["aggregator", "--predictions", str(preds), "--labels", str(tmp_path / "labels.csv"),
                       "--out", str(tmp_path / "agg"), "--max-epochs", "5"]) == 0
    err = capsys.readouterr().err
    assert "warning: the aggregator predicts score" in err and "4 training videos" in err
    report = json.loads((tmp_path / "agg" / "metrics.json").read_text())
    assert len(report["warnings"]) == 1 and len(report["train_predictions"]) == 1

    # confident, distinct frame predictions: the aggregator separates the videos and nothing is said
    eye = np.eye(4)
    good = [{"video": f"v{v}", "frame": t, "probs": (0.9 * eye[v] + 0.025).tolist()} for v in range(4) for t in range(3)]
    result = train_aggregator(AggregatorTrainConfig(max_epochs=5), good, {f"v{v}": v for v in range(4)})
    assert result.train_predictions == [0, 1, 2, 3] and result.warnings == []


def test_sequence_options_progress_time_limit_and_per_video_evaluation(dataset: Path, tmp_path: Path, capsys):
    from ml.evaluate import main as evaluate_main

    run = tmp_path / "seq"
    assert train_main(["sequence", "--manifest", str(dataset / "manifest.jsonl"), "--model", "xception_lstm",
                       "--model-kwargs", json.dumps(TINY_SEQUENCE["xception_lstm"]), "--window", "3", "--stride", "1",
                       "--epochs", "3", "--batch-size", "2", "--size", "32", "32", "--device", "cpu",
                       "--labels", str(dataset / "labels.csv"), "--video-column", "vid", "--score-column", "severity",
                       "--weight-decay", "0.01", "--no-balance", "--max-time-s", "0", "--quiet",
                       "--out", str(run)]) == 0
    captured = capsys.readouterr()
    assert [line.split()[1] for line in captured.out.splitlines() if line.startswith("epoch ")] == ["1/3"]
    assert "stopped after --max-time-s" in captured.err
    config = json.loads((run / "config.json").read_text())
    assert config["weight_decay"] == 0.01 and config["balanced_sampling"] is False and config["max_time_s"] == 0
    report = json.loads((run / "metrics.json").read_text())
    assert report["stopped_at_time_limit"] is True and len(report["history"]) == 1
    assert (run / "checkpoint.pt").is_file()

    preds = tmp_path / "preds.jsonl"
    assert predict_main(["--checkpoint", str(run / "checkpoint.pt"), "--manifest", str(dataset / "manifest.jsonl"),
                         "--out", str(preds), "--video-labels", str(dataset / "labels.csv"), "--video-column", "vid",
                         "--score-column", "severity", "--quiet"]) == 0
    assert preds.read_text() == ""  # a per-video model: video predictions only
    videos = [json.loads(line) for line in (tmp_path / "preds.videos.jsonl").read_text().splitlines()]
    assert [v["score"] for v in videos] == [0, 1, 2, 3]
    capsys.readouterr()
    out = tmp_path / "eval"
    assert evaluate_main(["--predictions", str(preds), "--manifest", str(dataset / "manifest.jsonl"),
                          "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["video"]["model"]["n"] == 4 and metrics["frame"]["n"] == 0
    assert {"f1_weighted", "f1_macro", "kappa_quadratic", "accuracy"} <= set(metrics["video"]["model"])
    assert "model" in capsys.readouterr().out


def test_segmentation_prints_epoch_lines_and_writes_metrics(tmp_path: Path, capsys):
    from ml.phantom import generate_phantom_video
    from tests.ml.tiny_models import TINY_SEGMENTERS

    lines = []
    for v in range(2):
        video = generate_phantom_video(seed=v, n_frames=3, height=64, width=64)
        for t in range(3):
            cv2.imwrite(str(tmp_path / f"f{v}_{t}.png"), video.frames[t])
            cv2.imwrite(str(tmp_path / f"m{v}_{t}.png"), video.masks[t])
            lines.append(json.dumps({"image": f"f{v}_{t}.png", "mask": f"m{v}_{t}.png", "patient": f"p{v}",
                                     "video": f"v{v}", "score": int(video.scores[t])}))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    assert train_main(["segmentation", "--manifest", str(tmp_path / "m.jsonl"), "--models", "unet_roy",
                       "--model-kwargs", json.dumps({"unet_roy": TINY_SEGMENTERS["unet_roy"]}), "--epochs", "2",
                       "--batch-size", "2", "--steps-per-epoch", "1", "--size", "32", "32", "--device", "cpu",
                       "--mc-samples", "0", "--quiet", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert "[unet_roy epoch 2]" in out
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["member_epoch"] for h in report["history"]] == [1, 2]


def test_train_reports_bad_input_without_traceback(tmp_path: Path, capsys):
    (tmp_path / "m.jsonl").write_text('{"image": "a.png", "patient": "p", "score": 7}\n')
    assert train_main(["frame", "--manifest", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "m.jsonl:1: score must be" in capsys.readouterr().err
    assert train_main(["frame", "--manifest", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "o"),
                       "--threads", "0"]) == 2
