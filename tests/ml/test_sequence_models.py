"""Sequence models (CNN-LSTM video scorers): shapes, windows, the loss falls on phantom videos, predictions and resume."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import torch

from ml.checkpoint import load_checkpoint, model_from_checkpoint
from ml.data import ManifestRow, build_clip_set, window_starts
from ml.inference import predict_sequence_rows
from ml.losses import IGNORE_INDEX, SequenceLoss
from ml.models import MODEL_REGISTRY, DastiderCNNLSTM, SequenceScorerOutput, XceptionLSTM, create_model
from ml.phantom import generate_phantom_video
from ml.training import SequenceTrainConfig, train_sequence_model
from tests.ml.tiny_models import TINY_SEQUENCE

pytestmark = pytest.mark.usefixtures("two_threads")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def phantom_rows(tmp_path_factory) -> list[ManifestRow]:
    """Six 10-frame phantom videos of constant scores 0,1,2,3,0,1 (three patients), as image rows."""
    folder = tmp_path_factory.mktemp("clips")
    rows = []
    for v in range(6):
        score = v % 4
        video = generate_phantom_video(seed=v, n_frames=10, height=64, width=64, score_path=[score] * 10)
        for t in range(10):
            path = folder / f"v{v}_{t}.png"
            cv2.imwrite(str(path), video.frames[t])
            rows.append(ManifestRow(patient=f"p{v // 2}", video=f"v{v}", score=score, image=path, extra={"index": t}))
    return rows[::-1]  # out of order on purpose


def windows(b: int = 2, t: int = 5, side: int = 48) -> torch.Tensor:
    return torch.rand(b, t, 1, side, side) * 2 - 1


def test_registry_and_published_defaults():
    assert MODEL_REGISTRY["densenet_lstm"].task == MODEL_REGISTRY["xception_lstm"].task == "sequence"
    defaults = XceptionLSTM.__init__.__kwdefaults__
    assert defaults["lstm_hidden"] == 512 and defaults["lstm_dropout"] == 0.4 and tuple(defaults["dense"]) == (1024, 1024)
    assert tuple(defaults["exit_channels"]) == (1024, 1536, 2048) and defaults["middle_blocks"] == 8
    d = DastiderCNNLSTM.__init__.__kwdefaults__
    assert (d["growth_rate"], tuple(d["block_config"]), d["num_init_features"]) == (32, (6, 12, 48, 32), 64)
    assert SequenceTrainConfig().window == 20
    assert MODEL_REGISTRY["densenet_lstm"].build_loss().reconstruction_weight == 1.0
    assert MODEL_REGISTRY["xception_lstm"].build_loss().reconstruction_weight == 0.0


def test_per_frame_and_per_video_outputs():
    dastider = create_model("densenet_lstm", **TINY_SEQUENCE["densenet_lstm"]).train()
    out = dastider(windows())
    assert isinstance(out, SequenceScorerOutput) and out.per_frame
    assert out.logits.shape == (2, 5, 4) and out.reconstruction is not None
    assert out.reconstruction.shape == (2, 5, 1, 48, 48) and out.reconstruction.abs().max() <= 1
    assert dastider.eval()(windows()).reconstruction is None
    xception = create_model("xception_lstm", **TINY_SEQUENCE["xception_lstm"]).eval()
    out = xception(windows(3, 4, 40))
    assert not out.per_frame and out.logits.shape == (3, 4)
    torch.testing.assert_close(out.probs().sum(-1), torch.ones(3))
    with pytest.raises(ValueError, match=r"\(B, T, 1, H, W\)"):
        xception(torch.zeros(2, 1, 40, 40))


def test_sequence_loss_ignores_padding():
    out = SequenceScorerOutput(logits=torch.zeros(1, 3, 4), per_frame=True)
    labels = torch.tensor([[1, IGNORE_INDEX, IGNORE_INDEX]])
    parts = SequenceLoss()(out, labels)
    assert parts.total.item() == pytest.approx(torch.log(torch.tensor(4.0)).item())
    with pytest.raises(ValueError, match="do not match"):
        SequenceLoss()(out, torch.tensor([1]))


def test_window_starts_cover_every_frame():
    assert window_starts(5, 20, 10) == [0]
    assert window_starts(45, 20, 10) == [0, 10, 20, 25]
    assert window_starts(40, 20, 20) == [0, 20]


def test_clip_set_orders_frames_and_pads_short_videos(phantom_rows):
    clips = build_clip_set(phantom_rows, (32, 32))
    assert clips.videos == [f"v{i}" for i in range(6)] and clips.lengths == [10] * 6
    assert [r.extra["index"] for r in clips.rows[:10]] == list(range(10))
    assert clips.video_labels.tolist() == [0, 1, 2, 3, 0, 1]
    owners, indices = clips.windows(12, 12)
    assert indices.shape == (6, 12) and indices[0, -1] == indices[0, -2] == 9
    labels = clips.window_frame_labels(owners, indices)
    assert (labels[0, 10:] == IGNORE_INDEX).all() and (labels[0, :10] == 0).all()


def tiny_config(model: str, **kwargs) -> SequenceTrainConfig:
    return SequenceTrainConfig(**{"model": model, "model_kwargs": TINY_SEQUENCE[model], "window": 4, "stride": 2,
                               "batch_size": 8, "size": (48, 48), "device": "cpu", "lr": 3e-3, "scheduler": "none",
                               **kwargs})


@pytest.mark.slow
@pytest.mark.parametrize(("model", "epochs", "lr"), [("densenet_lstm", 6, 3e-3), ("xception_lstm", 8, 1e-2)])
def test_each_sequence_model_learns_phantom_videos(model, epochs, lr, phantom_rows):
    """18 windows of 4 frames, 3 batches an epoch: the video model needs a larger step to move in 8 epochs."""
    result = train_sequence_model(tiny_config(model, epochs=epochs, lr=lr), phantom_rows)
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == epochs and losses[-1] < 0.85 * losses[0], losses


def test_predictions_and_resume(phantom_rows, tmp_path: Path):
    config = tiny_config("densenet_lstm", epochs=2)
    full = train_sequence_model(config, phantom_rows, val_rows=phantom_rows, out_dir=tmp_path / "full")
    assert "val_video_f1_weighted" in full.metrics and "val_f1_weighted" in full.metrics
    train_sequence_model(tiny_config("densenet_lstm", epochs=1), phantom_rows, out_dir=tmp_path / "part")
    resumed = train_sequence_model(config, phantom_rows, out_dir=tmp_path / "part", resume=tmp_path / "part" / "checkpoint.pt")
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[-1]["train_loss"] == pytest.approx(full.history[-1]["train_loss"], rel=1e-4)

    model = model_from_checkpoint(load_checkpoint(tmp_path / "full" / "checkpoint.pt"))
    frames, videos = predict_sequence_rows(model, phantom_rows, size=(48, 48), window=4)
    assert len(frames) == 60 and len(videos) == 6
    assert all(abs(sum(f["probs"]) - 1) < 1e-4 and f["pred"] in range(4) for f in frames)
    assert {f["extra"]["index"] for f in frames if f["video"] == "v0"} == set(range(10))
    first = [f for f in frames if f["video"] == "v3"]
    mean = torch.tensor([f["probs"] for f in first]).mean(0)
    video3 = next(v for v in videos if v["video"] == "v3")
    torch.testing.assert_close(torch.tensor(video3["probs"]), mean, atol=1e-5, rtol=0)

    xception = train_sequence_model(tiny_config("xception_lstm", epochs=1), phantom_rows).model
    frames, videos = predict_sequence_rows(xception, phantom_rows, size=(48, 48), window=4)
    assert frames == [] and len(videos) == 6 and all(v["n_frames"] == 10 for v in videos)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown model 'reg_stn' for task 'sequence'"):
        SequenceTrainConfig(model="reg_stn")
    with pytest.raises(ValueError, match="window must be >= 1"):
        SequenceTrainConfig(window=0)
    assert SequenceTrainConfig(model="densenet_lstm").per_frame and not SequenceTrainConfig().per_frame


def test_lite0_lstm_keeps_its_pretrained_trunk_frozen():
    """The pretrained option of the sequence models: ImageNet EfficientNet-Lite0 frame features, frozen
    (no gradients, batch-norm statistics fixed in training mode), the LSTM and head trainable."""
    import torch

    from ml.models import create_model
    from ml.models.encoders import PretrainedEncoder

    model = create_model("lite0_lstm")
    assert isinstance(model.trunk, PretrainedEncoder)
    model.train()
    assert not model.trunk.training and model.lstm.training
    before = {k: v.clone() for k, v in model.trunk.state_dict().items()}
    out = model(torch.rand(2, 3, 1, 64, 64) * 2 - 1)
    out.logits.sum().backward()
    assert all(p.grad is None for p in model.trunk.parameters())
    assert any(p.grad is not None for p in model.lstm.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.trunk.state_dict().items())  # running stats unchanged


def test_lite0_lstm_trains_on_cached_frame_features_as_on_frames():
    """forward_features on the frozen trunk's features is forward on the frames: the LSTM and head can train on
    cached embeddings (bench/covid_blues_cv.py does) and the result scores raw frames unchanged."""
    import torch

    from ml.models import create_model

    model = create_model("lite0_lstm", pretrained=None).eval()
    x = torch.rand(2, 3, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        feats = model.trunk(x.reshape(6, 1, 64, 64)).view(2, 3, -1)
        torch.testing.assert_close(model.forward_features(feats).logits, model(x).logits)
