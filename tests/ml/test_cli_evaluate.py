"""`python -m ml.evaluate` on hand-made predictions: video macro F1 and quadratic kappa (checked against
scikit-learn), Setting 2 said once when labels are per video, Setting 3 from annotators' labels, per-video
predictions, and bad input without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from ml.data import ManifestRow, annotator_video_scores
from ml.evaluate import evaluate_predictions
from ml.evaluate import main as evaluate_main

# video -> (true score, predicted score); 3 frames each
VIDEOS = {"v0": (0, 0), "v1": (1, 2), "v2": (2, 2), "v3": (3, 1), "v4": (0, 1), "v5": (3, 3)}


def _probs(score: int) -> list[float]:
    p = np.full(4, 0.05)
    p[score] = 0.85
    return p.tolist()


def _rows_and_predictions(annotators: dict[str, dict[str, int]] | None = None):
    rows, preds = [], []
    for v, (truth, pred) in VIDEOS.items():
        for t in range(3):
            for annotator, score in (annotators or {}).get(v, {None: truth}).items():  # type: ignore[arg-type]
                rows.append(ManifestRow(patient=f"p{v}", video=v, score=score, image=Path(f"/f/{v}_{t}.png"),
                                        annotator=annotator))
            preds.append({"key": f"/f/{v}_{t}.png", "video": v, "frame": t, "probs": _probs(pred)})
    return rows, preds


def _write(folder: Path, rows: list[ManifestRow], preds: list[dict]) -> tuple[Path, Path]:
    manifest, predictions = folder / "m.jsonl", folder / "p.jsonl"
    manifest.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    predictions.write_text("".join(json.dumps(p) + "\n" for p in preds))
    return manifest, predictions


def test_video_macro_f1_and_quadratic_kappa_match_sklearn():
    rows, preds = _rows_and_predictions()
    result = evaluate_predictions(preds, rows)
    truth = [t for t, _ in VIDEOS.values()]
    pred = [p for _, p in VIDEOS.values()]
    for method in ("max_argmax", "argmax_mean"):
        block = result.metrics["video"][method]
        assert block["n"] == 6
        assert block["f1_macro"] == pytest.approx(f1_score(truth, pred, average="macro"))
        assert block["f1_weighted"] == pytest.approx(f1_score(truth, pred, average="weighted"))
        assert block["kappa_quadratic"] == pytest.approx(
            cohen_kappa_score(truth, pred, weights="quadratic", labels=range(4)))
    frame = result.metrics["frame"]
    assert frame["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(np.repeat(truth, 3), np.repeat(pred, 3), weights="quadratic", labels=range(4)))


def test_setting2_is_said_once_when_labels_are_per_video(tmp_path: Path, capsys):
    manifest, predictions = _write(tmp_path, *_rows_and_predictions())
    assert evaluate_main(["--predictions", str(predictions), "--manifest", str(manifest), "--out",
                          str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert out.count("setting 2") == 1 and "skipped" in out and "setting 3" not in out
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["setting2"] == {} and "per-video labels" in metrics["setting2_skipped"]
    assert "kappa (quadratic)" in out and "F1 macro" in out


def test_setting3_from_the_manifest_annotators_and_from_a_csv(tmp_path: Path, capsys):
    # three annotators: all agree on v0, v2, v5; two of three on v1, v3; nobody agrees on v4
    annotators = {"v0": {"a": 0, "b": 0, "c": 0}, "v1": {"a": 1, "b": 1, "c": 2}, "v2": {"a": 2, "b": 2, "c": 2},
                  "v3": {"a": 3, "b": 2, "c": 3}, "v4": {"a": 0, "b": 1, "c": 2}, "v5": {"a": 3, "b": 3, "c": 3}}
    rows, preds = _rows_and_predictions(annotators)
    assert annotator_video_scores(rows) == annotators
    truth = {v: t for v, (t, _) in VIDEOS.items()}
    result = evaluate_predictions(preds, rows, annotator_scores=annotators, video_labels=truth)
    s3 = result.metrics["setting3"]
    assert set(s3) == {"2", "3"} and s3["2"]["videos_kept"] == 5 and s3["3"]["videos_kept"] == 3
    kept = ["v0", "v2", "v5"]
    assert s3["3"]["max_argmax"]["n"] == 3
    assert s3["3"]["max_argmax"]["accuracy"] == pytest.approx(np.mean([VIDEOS[v][0] == VIDEOS[v][1] for v in kept]))

    # the platform's CSV export: label_type, video_id, annotator, score (frame scores are skipped)
    manifest, predictions = _write(tmp_path, *_rows_and_predictions())
    csv = tmp_path / "labels.csv"
    csv.write_text("label_type,video_id,annotator,score\n" + "frame_score,v4,a,3\n" + "".join(
        f"video_score,{v},{a},{s}\n" for v, scores in annotators.items() for a, s in scores.items()))
    assert evaluate_main(["--predictions", str(predictions), "--manifest", str(manifest), "--out", str(tmp_path / "e"),
                          "--annotator-labels", str(csv), "--video-column", "video_id",
                          "--setting3-min-agree", "3"]) == 0
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert list(metrics["setting3"]) == ["3"] and metrics["setting3"]["3"]["videos_kept"] == 3
    assert "setting 3, >= 3 annotators agree: 3 videos" in capsys.readouterr().out


def test_video_predictions_alone_are_scored_as_the_model(tmp_path: Path):
    rows, _ = _rows_and_predictions()
    videos = [{"video": v, "patient": f"p{v}", "probs": _probs(p), "pred": p} for v, (_, p) in VIDEOS.items()]
    result = evaluate_predictions([], rows, video_predictions=videos)
    block = result.metrics["video"]["model"]
    truth = [t for t, _ in VIDEOS.values()]
    pred = [p for _, p in VIDEOS.values()]
    assert block["n"] == 6 and block["f1_macro"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert result.metrics["frame"] == {"n": 0} and [v["model"] for v in result.videos] == pred
    # the video file itself as --predictions
    manifest, predictions = _write(tmp_path, rows, videos)
    assert evaluate_main(["--predictions", str(predictions), "--manifest", str(manifest), "--out",
                          str(tmp_path / "e")]) == 0


def test_bad_input_is_one_line_not_a_traceback(tmp_path: Path, capsys):
    rows, preds = _rows_and_predictions()
    manifest, predictions = _write(tmp_path, rows, [])
    assert evaluate_main(["--predictions", str(predictions), "--manifest", str(manifest), "--out",
                          str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "error: no frame prediction" in err and "Traceback" not in err
    manifest, predictions = _write(tmp_path, rows, preds[:-1])
    assert evaluate_main(["--predictions", str(predictions), "--manifest", str(manifest), "--out",
                          str(tmp_path / "e")]) == 2
    assert "have no prediction" in capsys.readouterr().err
