"""Segmentation scoring in process (a tiny U-Net on CPU): each row keeps, next to its mask and uncertainty
PNGs, the frame's mean MC-dropout standard deviation ("label next" ranks by it); none without MC samples."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.checkpoint import save_checkpoint
from ml.inference import UNCERTAINTY_PNG_MAX
from ml.models import create_model
from modelling.models import ModelKind, ModelVersion, SegmentationPrediction
from modelling.scoring import segmentation_predict
from modelling.services import model_version_create
from tests.ml.tiny_models import TINY_SEGMENTERS

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]

MEMBERS = [{"model": "unet_roy", "model_kwargs": TINY_SEGMENTERS["unet_roy"]}]


def segmenter(tmp_path: Path, *, mc_samples: int) -> ModelVersion:
    path = save_checkpoint(tmp_path / f"seg{mc_samples}.pt", model=create_model("seg_ensemble", members=MEMBERS),
                           epoch=1, rng=False, config={"model": "seg_ensemble", "model_kwargs": {"members": MEMBERS},
                                                       "size": [32, 32], "mc_samples": mc_samples})
    return model_version_create(kind=ModelKind.SEGMENTATION, name="seg", weights=path, config={}, metrics={},
                                data_snapshot={})


def test_scoring_stores_the_frames_mean_uncertainty(tmp_path, world):
    version = segmenter(tmp_path, mc_samples=4)
    frames = world.frames(world.v1)
    assert segmentation_predict(version, [world.v1.pk]) == len(frames)
    rows = list(SegmentationPrediction.objects.filter(model_version=version).order_by("frame__index"))
    assert [r.frame_id for r in rows] == [f.pk for f in frames]
    for row in rows:
        png = cv2.imdecode(np.frombuffer(row.uncertainty.read(), np.uint8), cv2.IMREAD_UNCHANGED)
        from_png = png.astype(np.float64).mean() * UNCERTAINTY_PNG_MAX / 255
        # the float map's mean: the PNG's within its rounding (half a step)
        assert row.uncertainty_mean is not None and 0 <= row.uncertainty_mean <= UNCERTAINTY_PNG_MAX
        assert row.uncertainty_mean == pytest.approx(from_png, abs=0.5 * UNCERTAINTY_PNG_MAX / 255 + 1e-9)
    assert any(r.uncertainty_mean > 0 for r in rows)  # the latent dropout moves the probabilities


def test_without_mc_samples_there_is_no_mean(tmp_path, world):
    version = segmenter(tmp_path, mc_samples=0)
    segmentation_predict(version, [world.v2.pk])
    rows = SegmentationPrediction.objects.filter(model_version=version)
    assert rows.count() == len(world.frames(world.v2))
    assert {(r.uncertainty.name, r.uncertainty_mean) for r in rows} == {("", None)}
