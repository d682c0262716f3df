"""The segmentation ensemble's training loop, checkpoint, resume, evaluation and frame-size inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.checkpoint import load_checkpoint, model_from_checkpoint
from ml.data import phantom_segmentation_samples
from ml.inference import segment_images, uncertainty_to_uint8
from ml.models import SegmentationEnsemble
from ml.training import SegTrainConfig, train_segmentation
from tests.ml.tiny_models import TINY_SEGMENTERS

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("two_threads")]


@pytest.fixture(scope="module")
def samples():
    return phantom_segmentation_samples(n_patients=3, videos_per_patient=1, n_frames=4, height=64, width=80)


def config(**kwargs) -> SegTrainConfig:
    return SegTrainConfig(**{"models": ["unet_roy", "unet_plusplus"],
                             "model_kwargs": {k: TINY_SEGMENTERS[k] for k in ("unet_roy", "unet_plusplus")},
                             "epochs": 2, "batch_size": 4, "steps_per_epoch": 2, "size": (40, 60), "device": "cpu",
                             "mc_samples": 4, **kwargs})


def test_paper_defaults():
    c = SegTrainConfig()
    assert c.models == ["unet_roy", "unet_plusplus", "deeplabv3_plus"]
    assert c.batch_size == 32 and c.size == (200, 260) and c.mc_samples == 40 and c.augment and c.balanced_sampling


@pytest.mark.slow
def test_train_checkpoint_resume_and_segment(samples, tmp_path: Path):
    progress = []
    result = train_segmentation(config(), samples[:8], val_samples=samples[8:], out_dir=tmp_path,
                                progress_callback=progress.append)
    assert [(h["member"], h["epoch"]) for h in result.history] == [
        ("unet_roy", 1), ("unet_roy", 2), ("unet_plusplus", 3), ("unet_plusplus", 4)]
    assert [p.epoch for p in progress if p.phase == "epoch"] == [1, 2, 3, 4] and progress[-1].phase == "val"
    val = result.metrics["val"]
    assert set(val) == {"unet_roy", "unet_plusplus", "ensemble"}
    assert 0 <= val["ensemble"]["pixel_accuracy"] <= 1 and set(val["ensemble"]["dice_per_class"]) == {1, 2, 3, 4}

    model = model_from_checkpoint(load_checkpoint(result.checkpoint))
    assert isinstance(model, SegmentationEnsemble) and len(model.members) == 2
    x = torch.rand(1, 1, 40, 60) * 2 - 1
    torch.testing.assert_close(model(x), result.ensemble(x))

    again = train_segmentation(config(), samples[:8], out_dir=tmp_path)  # every member finished: nothing trains
    assert again.history == result.history
    torch.testing.assert_close(again.ensemble(x), result.ensemble(x))

    images = [s.image for s in samples[:3]]
    outputs = list(segment_images(model, images, size=(40, 60), mc_samples=4, batch_size=2))
    assert len(outputs) == 3
    for mask, std in outputs:
        assert mask.shape == (64, 80) and mask.dtype == np.uint8 and mask.max() <= 4
        assert std is not None and std.shape == (64, 80) and std.min() >= 0 and std.max() <= 0.5


def test_cancel_stops_between_batches(samples):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    result = train_segmentation(config(), samples[:8], should_stop=stop)
    assert result.cancelled and result.checkpoint is None


def test_uncertainty_bytes():
    np.testing.assert_array_equal(uncertainty_to_uint8(np.array([0.0, 0.25, 0.5, 0.7])), [0, 128, 255, 255])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"models": []}, "distinct segmenters"),
    ({"models": ["unet_roy", "unet_roy"]}, "distinct segmenters"),
    ({"models": ["seg_ensemble"]}, "built from its members"),
    ({"models": ["cnn_ce"]}, "unknown model 'cnn_ce' for task 'segmentation'"),
    ({"models": ["unet_roy"], "model_kwargs": {"deeplabv3_plus": {}}}, "models not trained"),
    ({"mc_samples": 1}, "mc_samples"),
    ({"batch_size": 0}, "batch_size"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SegTrainConfig(**kwargs)
