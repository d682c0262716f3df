"""Training the embedding video scorers (ml.training.embedding) on synthetic bags of frame embeddings:
the default recipe learns a score and a finding, calibrates, checkpoints; patient-level splits and CV."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.checkpoint import load_checkpoint, model_from_checkpoint
from ml.embeddings import VideoBag
from ml.models import EmbeddingVideoScorer
from ml.training.common import TrainingCancelled
from ml.training.embedding import (
    EmbeddingTrainConfig,
    bag_predictions,
    cross_validate,
    fit_uninorm,
    frame_aggregate_probs,
    oof_predictions,
    split_validation,
    train_embedding_model,
    uninorm_from_state,
)

pytestmark = pytest.mark.usefixtures("two_threads")

DIM = 16
SIGNAL_DIMS = 12  # the class mean shifts with the score along these
B_LINES_DIM = 12  # ... and with B-lines along this one
PATIENTS, VIDEOS, FRAMES = 12, 4, 6


def make_bags(seed: int = 0, *, unlabelled: bool = True) -> list[VideoBag]:
    """12 patients x 4 videos (every score once per patient) of 6 frames, D=16; B-lines present at random,
    A-lines (recorded for every other video) when the score is 0 or 1; plus a 13th patient's unlabelled video."""
    rng = np.random.default_rng(seed)
    bags = []
    for p in range(PATIENTS):
        for v in range(VIDEOS):
            score = (p + v) % 4
            b_lines = bool(rng.random() < 0.5)
            x = rng.standard_normal((FRAMES, DIM))
            x[:, :SIGNAL_DIMS] += 1.0 * score
            x[:, B_LINES_DIM] += 3.0 * b_lines
            findings = {"b_lines": b_lines} | ({"a_lines": score <= 1} if v % 2 == 0 else {})
            bags.append(VideoBag(f"p{p}_v{v}", f"p{p}", x.astype(np.float16), np.arange(0, 4 * FRAMES, 4),
                                 score, findings))
    if unlabelled:
        bags.append(VideoBag("p99_v0", "p99", rng.standard_normal((FRAMES, DIM)).astype(np.float16),
                             np.arange(FRAMES)))
    return bags


@pytest.fixture(scope="module")
def bags() -> list[VideoBag]:
    return make_bags()


def test_default_recipe_learns_calibrates_and_checkpoints(bags: list[VideoBag], tmp_path) -> None:
    config = EmbeddingTrainConfig()
    assert (config.model, config.optimizer, config.l2) == ("embedding_probe", "lbfgs", 0.25)
    result = train_embedding_model(config, bags, out_dir=tmp_path)
    metrics = result.metrics
    assert metrics["val_f1_weighted"] >= 0.8
    assert metrics["val_auc_b_lines"] is not None and metrics["val_auc_b_lines"] >= 0.8
    assert "val_auc_a_lines" in metrics and len(metrics["val_recall_per_class"]) == 4
    assert result.temperature > 0 and metrics["temperature"] == result.temperature
    assert float(result.model.temperature) == pytest.approx(result.temperature)
    assert metrics["train_videos"] + metrics["val_videos"] == PATIENTS * VIDEOS  # the unlabelled one is left out
    assert metrics["val_videos"] == VIDEOS * len(metrics["val_patients"])
    assert isinstance(result.model, EmbeddingVideoScorer) and not result.model.training

    assert result.checkpoint == tmp_path / "checkpoint.pt" and (tmp_path / "config.json").is_file()
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["config"]["model"] == "embedding_probe"
    assert ckpt["config"]["model_kwargs"]["in_features"] == DIM
    assert ckpt["extra"]["metrics"]["val_f1_weighted"] == metrics["val_f1_weighted"]
    restored = model_from_checkpoint(ckpt)
    assert isinstance(restored, EmbeddingVideoScorer)
    assert float(restored.temperature) == pytest.approx(result.temperature)  # calibration travels with it
    assert torch.equal(restored.feature_mean, result.model.feature_mean)
    before, after = bag_predictions(result.model, bags[:8]), bag_predictions(restored, bags[:8])
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a["probs"], b["probs"], atol=1e-6)


def test_lbfgs_history_records_the_fitted_loss(bags: list[VideoBag]) -> None:
    fitted = train_embedding_model(EmbeddingTrainConfig(), bags).history
    one_step = train_embedding_model(EmbeddingTrainConfig(epochs=1), bags).history
    assert len(fitted) == len(one_step) == 1
    assert fitted[0]["train_loss"] < one_step[0]["train_loss"]


def test_training_is_deterministic(bags: list[VideoBag]) -> None:
    a = train_embedding_model(EmbeddingTrainConfig(seed=3), bags)
    b = train_embedding_model(EmbeddingTrainConfig(seed=3), bags)
    assert a.metrics["val_patients"] == b.metrics["val_patients"]
    assert a.temperature == b.temperature
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key


def test_attention_mil_with_adamw_learns(bags: list[VideoBag]) -> None:
    # l2 is the L-BFGS probe's penalty (0.25 by default); AdamW regularises with weight_decay and early
    # stopping, and under l2 = 0.25 the 128-wide MIL mostly shrinks its weights in 100 steps
    config = EmbeddingTrainConfig(model="attention_mil", optimizer="adamw", l2=0.0, lr=3e-3, epochs=100)
    seen = []
    result = train_embedding_model(config, bags, progress_callback=seen.append)
    assert result.metrics["val_f1_weighted"] >= 0.7
    assert result.model.pooling == "attention"
    assert 1 <= result.best_epoch <= len(result.history) <= config.epochs
    assert [h["epoch"] for h in result.history] == list(range(1, len(result.history) + 1))
    assert [p.epoch for p in seen] == [e for e in range(10, len(result.history) + 1, 10)]
    assert all(p.phase == "epoch" and p.metrics == result.history[p.epoch - 1] for p in seen)
    assert seen[0].loss == result.history[9]["train_loss"]
    with pytest.raises(TrainingCancelled):
        train_embedding_model(config, bags, should_stop=lambda: True)


def test_split_validation(bags: list[VideoBag]) -> None:
    train, val = split_validation(bags, 0.2, seed=0)
    train_patients, val_patients = {b.patient for b in train}, {b.patient for b in val}
    assert train_patients and val_patients and not train_patients & val_patients
    assert len(train) + len(val) == PATIENTS * VIDEOS and all(b.score is not None for b in train + val)
    assert [b.video for b in split_validation(bags, 0.2, seed=0)[1]] == [b.video for b in val]

    two_patients = [b for b in bags if b.patient in ("p0", "p1")] + [b for b in bags if b.score is None]
    with pytest.raises(ValueError, match="at least 3 patients"):
        split_validation(two_patients, 0.2, seed=0)  # the unlabelled patient does not count
    with pytest.raises(ValueError, match="at least 3 patients"):
        train_embedding_model(EmbeddingTrainConfig(), two_patients)
    unlabelled = [b for b in bags if b.score is None]
    with pytest.raises(ValueError, match="validation split is empty"):
        train_embedding_model(EmbeddingTrainConfig(), bags, val_bags=unlabelled)


def test_config_validation() -> None:
    for kwargs in ({"model": "cnn_sord"}, {"model": "nope"}, {"optimizer": "sgd"}, {"l2": -1.0}, {"lr": 0.0},
                   {"epochs": 0}, {"validation_fraction": 1.0}, {"size": 16}, {"encoder": "vit"},
                   {"uninorm_folds": 1}, {"uninorm_folds": -2}):
        with pytest.raises(ValueError):
            EmbeddingTrainConfig(**kwargs)
    config = EmbeddingTrainConfig(findings=["b_lines"], pretrained=None)
    assert config.findings == ("b_lines",)
    assert config.embedding_spec().key == "efficientnet_lite0-random-224"
    assert EmbeddingTrainConfig.from_dict(config.to_dict()) == config


def test_cross_validate(bags: list[VideoBag]) -> None:
    cv = cross_validate(EmbeddingTrainConfig(), bags, k=3)
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3
    for key in ("f1_weighted", "f1_macro", "quadratic_kappa", "accuracy", "ece", "auc_b_lines"):
        values = [fold[key] for fold in cv["per_fold"]]
        assert cv[f"{key}_mean"] == pytest.approx(np.mean(values))
        assert cv[f"{key}_std"] == pytest.approx(np.std(values))
    assert "n_videos_mean" not in cv and "recall_per_class_mean" not in cv
    assert sum(fold["n_videos"] for fold in cv["per_fold"]) == PATIENTS * VIDEOS
    assert cv["pooled"]["n_videos"] == PATIENTS * VIDEOS and len(cv["pooled"]["recall_per_class"]) == 4
    assert cv["f1_weighted_mean"] >= 0.7

    predictions = cv["predictions"]
    labelled = {b.video: b for b in bags if b.score is not None}
    assert sorted(p["video"] for p in predictions) == sorted(labelled)  # one each, out of fold
    fold_of: dict[str, set[int]] = {}
    for p in predictions:
        assert p["score"] == labelled[p["video"]].score and p["patient"] == labelled[p["video"]].patient
        fold_of.setdefault(p["patient"], set()).add(p["fold"])
    assert all(len(folds) == 1 for folds in fold_of.values())  # no patient in two folds
    assert {f for folds in fold_of.values() for f in folds} == {0, 1, 2}


def test_bag_predictions(bags: list[VideoBag]) -> None:
    model = train_embedding_model(EmbeddingTrainConfig(), bags).model
    ragged = [VideoBag(b.video, b.patient, b.embeddings[:n], b.frames[:n], b.score, b.findings)
              for b, n in zip(bags[:6], (6, 1, 3, 5, 2, 4), strict=True)]
    predictions = bag_predictions(model, ragged)
    assert [p["video"] for p in predictions] == [b.video for b in ragged]
    for p, bag in zip(predictions, ragged, strict=True):
        frame_probs = np.asarray(p["frame_probs"])
        assert p["frames"] == bag.frames.tolist()
        assert frame_probs.shape == (len(bag.frames), 4)
        np.testing.assert_allclose(frame_probs.sum(1), 1.0, atol=1e-5)
        assert sum(p["probs"]) == pytest.approx(1.0, abs=1e-5) and p["pred"] == int(np.argmax(p["probs"]))
        assert set(p["findings"]) == {"a_lines", "b_lines"}
        assert all(0.0 < v < 1.0 for v in p["findings"].values())
    # a one-frame video: its frame's probabilities are the video's (calibrated alike)
    np.testing.assert_allclose(predictions[1]["frame_probs"][0], predictions[1]["probs"], atol=1e-5)
    # batching does not change anything
    for a, b in zip(predictions, bag_predictions(model, ragged, batch=4), strict=True):
        np.testing.assert_allclose(a["probs"], b["probs"], atol=1e-6)
        np.testing.assert_allclose(a["frame_probs"], b["frame_probs"], atol=1e-6)


def test_oof_predictions_hold_out_each_patient_once(bags: list[VideoBag], monkeypatch) -> None:
    import ml.training.embedding as module

    trained_on: list[set[str]] = []
    real = module.train_embedding_model

    def spy(config, train, **kwargs):
        trained_on.append({b.patient for b in train})
        return real(config, train, **kwargs)

    monkeypatch.setattr(module, "train_embedding_model", spy)
    labelled = [b for b in bags if b.score is not None]
    predictions = oof_predictions(EmbeddingTrainConfig(uninorm_folds=3), bags)
    assert [p["video"] for p in predictions] == [b.video for b in labelled]
    assert [p["score"] for p in predictions] == [b.score for b in labelled]
    assert len(trained_on) == 3
    patients = {b.patient for b in labelled}
    for patient in patients:  # held out (predicted) by exactly one inner fold, trained on by the others
        assert sum(patient not in fold for fold in trained_on) == 1


def test_uninorm_fitted_on_inner_out_of_fold_probabilities(bags: list[VideoBag], tmp_path) -> None:
    config = EmbeddingTrainConfig(uninorm_folds=3)
    result = train_embedding_model(config, bags, out_dir=tmp_path)
    assert result.uninorm is not None and train_embedding_model(EmbeddingTrainConfig(), bags).uninorm is None
    state = result.metrics["uninorm"]
    assert len(state["neutral"]) == 4 and all(0.0 <= v <= 1.0 for v in state["neutral"])
    assert load_checkpoint(result.checkpoint)["extra"]["metrics"]["uninorm"] == state  # travels with the model
    predictions = bag_predictions(result.model, bags[:8])
    restored = frame_aggregate_probs(predictions, uninorm_from_state(state))
    np.testing.assert_allclose(restored, frame_aggregate_probs(predictions, result.uninorm), atol=1e-6)
    np.testing.assert_allclose(restored.sum(1), 1.0, atol=1e-6)
    mean = frame_aggregate_probs(predictions)
    np.testing.assert_allclose(mean[0], np.mean(predictions[0]["frame_probs"], axis=0))
    # a long video's aggregates saturate into ties: the argmax is still the aggregator's exact prediction
    fitted = fit_uninorm([{**p, "score": b.score} for p, b in zip(predictions, bags[:8], strict=True)])
    for row in ([0.05, 0.05, 0.1, 0.8], [0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.6, 0.1]):
        frames = torch.tensor([row] * 400)
        probs = frame_aggregate_probs([{"frame_probs": frames.tolist()}], fitted)
        assert np.isfinite(probs).all() and probs[0].argmax() == int(fitted.predict(frames[None])[0])


def test_cross_validate_reports_uninorm_next_to_argmax_mean(bags: list[VideoBag]) -> None:
    cv = cross_validate(EmbeddingTrainConfig(uninorm_folds=3), bags, k=3)
    aggregators = cv["aggregators"]
    assert set(aggregators) == {"argmax_mean", "uninorm"}
    for report in aggregators.values():
        assert len(report["per_fold"]) == 3
        assert report["f1_weighted_mean"] == pytest.approx(np.mean([f["f1_weighted"] for f in report["per_fold"]]))
    assert aggregators["uninorm"]["f1_weighted_mean"] >= 0.6
    assert "aggregators" not in cross_validate(EmbeddingTrainConfig(), bags, k=3)
