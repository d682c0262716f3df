"""GET /api/suggestions/ with the segmentation ensemble's MC-dropout uncertainty (issue 17): a frame the
active segmenter is less sure of ranks above an otherwise identical one; frames it has not segmented (or
segmented before the mean was stored) get a null ``mc_variance`` and are ranked by the other signals."""

from __future__ import annotations

import pytest

from modelling.models import ModelKind, ModelVersion, SegmentationPrediction
from tests.platform.modelling.test_suggestions import PROBS, get, key, version_with

pytestmark = pytest.mark.django_db

SAME = [0.5, 0.5, 0.0, 0.0]
TWINS = PROBS | {("v2", 0): SAME, ("v2", 1): SAME, ("v2", 2): SAME}  # v2's frames: unlabelled, alike


def segmenter(world, means: dict[tuple[str, int], float | None], *, active: bool = True) -> ModelVersion:
    version = ModelVersion.objects.create(kind=ModelKind.SEGMENTATION, name="seg", is_active=active)
    videos = {"v1": world.v1, "v2": world.v2}
    SegmentationPrediction.objects.bulk_create([
        SegmentationPrediction(frame=world.frames(videos[v])[i], model_version=version, mask=f"m/{v}{i}.png",
                               uncertainty=f"u/{v}{i}.png", uncertainty_mean=mean)
        for (v, i), mean in means.items()])
    return version


def items(world, user=None) -> dict[tuple[str, int], dict]:
    body = get(world, user or world.admin, limit=6).json()
    return {key(world, item): item | {"rank": n} for n, item in enumerate(body["items"])}


def test_the_more_uncertain_of_two_alike_frames_ranks_first(world):
    version_with(world, TWINS)
    before = items(world)
    assert before[("v2", 0)]["rank"] < before[("v2", 1)]["rank"]  # a tie: frame order decides
    assert before[("v2", 0)]["priority"] == before[("v2", 1)]["priority"]
    segmenter(world, {("v2", 0): 0.2, ("v2", 1): 0.01}, active=False)  # an old version's opinion is ignored
    segmenter(world, {("v2", 0): 0.01, ("v2", 1): 0.2, ("v1", 2): None})  # v1 frame 2: a row from before the mean

    after = items(world)
    low, high, unsegmented = after[("v2", 0)], after[("v2", 1)], after[("v2", 2)]
    assert high["rank"] < unsegmented["rank"] < low["rank"]  # above, and below, frames without the signal
    assert high["priority"] > low["priority"]
    assert (high["signals"]["mc_variance"], low["signals"]["mc_variance"]) == (1.0, 0.0)
    assert high["signals"]["entropy"] == low["signals"]["entropy"]
    assert unsegmented["signals"]["mc_variance"] is None and after[("v1", 2)]["signals"]["mc_variance"] is None
    assert unsegmented["priority"] == before[("v2", 2)]["priority"]  # no signal: the other signals alone


def test_without_segmentations_the_signal_is_null_and_the_order_unchanged(world):
    version_with(world, PROBS)
    plain = get(world, world.admin, limit=6).json()
    assert plain["items"] and all(item["signals"]["mc_variance"] is None for item in plain["items"])
    assert key(world, plain["items"][0]) == ("v2", 0)
    segmenter(world, {})  # an active segmenter that has segmented nothing yet
    assert get(world, world.admin, limit=6).json() == plain


def test_the_signal_costs_one_bounded_query(world, django_assert_max_num_queries):
    version_with(world, TWINS)
    segmenter(world, {("v1", 2): 0.1, ("v2", 0): 0.01, ("v2", 1): 0.2, ("v2", 2): 0.05})
    with django_assert_max_num_queries(6):  # the bound of test_suggestions' query test, with the segmenter
        ranked = get(world, world.ann_b).json()["items"]
    assert len(ranked) == 5 and {item["signals"]["mc_variance"] is not None for item in ranked} == {True, False}
