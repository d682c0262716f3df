"""GET /api/suggestions/ (issue 17): frames to label next, ordered by ml.active from the active model's
stored frame probabilities and the labels so far; per role; bounded queries; follows new labels and versions."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.services import frame_scores_import
from modelling.models import FramePrediction, ModelKind, ModelVersion

pytestmark = pytest.mark.django_db

PROBS = {  # (video, frame index) -> the model's P(score)
    ("v1", 0): [0.97, 0.01, 0.01, 0.01],  # confident 0; annotators said 0 and 2
    ("v1", 1): [0.01, 0.01, 0.01, 0.97],  # confident 3; the consensus is 1
    ("v1", 2): [0.0, 0.0, 0.0, 1.0],  # agrees with its one label
    ("v2", 0): [0.25, 0.25, 0.25, 0.25],  # unsure
    ("v2", 1): [0.5, 0.5, 0.0, 0.0],
    ("v2", 2): [1.0, 0.0, 0.0, 0.0],
}


def version_with(world, probs, *, kind=ModelKind.EMBEDDING) -> ModelVersion:
    ModelVersion.objects.filter(kind=kind, is_active=True).update(is_active=False)
    version = ModelVersion.objects.create(kind=kind, name="probe", is_active=True)
    videos = {"v1": world.v1, "v2": world.v2}
    FramePrediction.objects.bulk_create([
        FramePrediction(frame=world.frames(videos[v])[i], model_version=version, probabilities=p,
                        score=max(range(4), key=p.__getitem__)) for (v, i), p in probs.items()])
    return version


def key(world, item) -> tuple[str, int]:
    return ("v1" if item["video"] == world.v1.pk else "v2", item["frame_index"])


def get(world, user, **params):
    return world.client(user).get("/api/suggestions/", params)


def test_admins_see_every_frame_most_informative_first(world):
    version = version_with(world, PROBS)
    body = get(world, world.admin, limit=6).json()
    assert body["model_version"] == version.pk
    order = [key(world, item) for item in body["items"]]
    assert order[0] == ("v2", 0) and len(order) == 6  # the model is unsure: entropy and margin at their highest
    assert order.index(("v1", 1)) < order.index(("v1", 2))  # contradicts the consensus vs agrees with it
    assert order.index(("v1", 0)) < order.index(("v2", 2))  # the annotators disagree
    assert set(order[-2:]) == {("v1", 2), ("v2", 2)}  # confident and uncontested
    first = body["items"][0]
    assert first["signals"]["entropy"] == pytest.approx(1.0) and first["signals"]["model_consensus"] is None
    assert [item["video"] for item in body["items"][:3]].count(world.v2.pk) <= 2  # the top is spread over videos
    assert [v["video"] for v in body["videos"]] == [world.v2.pk, world.v1.pk]  # rolled up: v2 is less certain


def test_annotators_get_their_assigned_videos_without_what_they_labelled(world):
    version_with(world, PROBS)
    mine = [key(world, item) for item in get(world, world.ann_a).json()["items"]]
    assert mine == [("v1", 2)]  # v1 only (their assignment); frames 0 and 1 they scored already
    theirs = {key(world, item) for item in get(world, world.ann_b).json()["items"]}
    assert theirs == {("v1", 1), ("v1", 2), ("v2", 0), ("v2", 1), ("v2", 2)}


def test_roles_and_bad_limits(world, client):
    version_with(world, PROBS)
    assert get(world, world.clinician).status_code == 403
    assert client.get("/api/suggestions/").status_code in (401, 403)
    assert get(world, world.validator).status_code == 200
    assert get(world, world.admin, limit=0).status_code == 400


def test_follows_new_labels_and_new_versions(world):
    assert get(world, world.admin).json() == {"model_version": None, "items": [],
                                              "reason": "no active model with frame predictions"}
    version_with(world, PROBS)
    frame = world.frames(world.v2)[0]
    frame_scores_import(annotator=world.ann_b, scores={frame.pk: 1})
    assert ("v2", 0) not in {key(world, i) for i in get(world, world.ann_b).json()["items"]}
    admin_items = {key(world, i): i for i in get(world, world.admin).json()["items"]}
    assert admin_items[("v2", 0)]["labels"] == 1
    swapped = {k: list(reversed(p)) for k, p in PROBS.items()} | {("v2", 2): [0.25] * 4, ("v2", 0): [0, 0, 0, 1.0]}
    newer = version_with(world, swapped)
    body = get(world, world.admin).json()
    assert body["model_version"] == newer.pk and key(world, body["items"][0]) == ("v2", 2)


def test_a_constant_number_of_queries(world, django_assert_max_num_queries):
    version_with(world, PROBS)
    with django_assert_max_num_queries(6):
        assert len(get(world, world.ann_b).json()["items"]) == 5


def test_the_top_is_spread_by_cached_embeddings(world):
    from ml.training import EmbeddingTrainConfig
    from modelling.scoring import embedding_cache

    version = version_with(world, PROBS)
    config = EmbeddingTrainConfig(size=64, frame_step=1)
    version.config = config.to_dict()
    version.save(update_fields=["config"])
    without = [key(world, i) for i in get(world, world.admin, limit=2).json()["items"]]
    assert without == [("v2", 0), ("v2", 1)]  # no embedding file: the two most uncertain (one video)
    cache = embedding_cache()
    for video, point in ((world.v1, 10.0), (world.v2, 0.0)):  # two far-apart clusters, one per video
        path = cache.path(config.embedding_spec(), video.sha256, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, frames=np.arange(3), embeddings=np.full((3, 4), point, np.float32))
    body = get(world, world.admin, limit=2).json()
    assert body["diversity"] == "embeddings"
    assert [key(world, i)[0] for i in body["items"]] == ["v2", "v1"]  # each cluster's best
