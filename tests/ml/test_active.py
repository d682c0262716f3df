"""Active learning core (ml.active): informativeness signals, diversity, the combined ranking."""

from __future__ import annotations

import numpy as np
import pytest

from ml.active import (
    DEFAULT_WEIGHTS,
    annotator_disagreement,
    combine,
    entropy,
    k_center_greedy,
    kmeans,
    margin,
    mc_variance,
    model_consensus_disagreement,
    mutual_information,
    per_video,
    rank,
)


def test_entropy_and_margin_are_scaled_to_one():
    probs = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0], [0.7, 0.2, 0.1, 0.0]])
    h, m = entropy(probs), margin(probs)
    assert h[0] == pytest.approx(0, abs=1e-9) and h[1] == pytest.approx(1)
    assert m.tolist() == pytest.approx([0.0, 1.0, 1.0, 0.5])
    assert h[2] == pytest.approx(0.5) and 0 < h[3] < h[1]
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        entropy(np.ones(4))


def test_mc_dropout_variance_and_mutual_information():
    agree = np.tile(np.array([[0.5, 0.5]]), (8, 1, 1))  # uncertain but consistent: aleatoric
    flip = np.array([[[1.0, 0.0]], [[0.0, 1.0]]] * 4)  # confident passes that disagree: epistemic
    samples = np.concatenate([agree, flip], axis=1)  # (S=8, N=2, C=2)
    var, mi = mc_variance(samples), mutual_information(samples)
    assert var.tolist() == pytest.approx([0.0, 1.0]) and mi.tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
    with pytest.raises(ValueError, match="S >= 2"):
        mc_variance(samples[:1])


def test_annotator_and_model_consensus_disagreement():
    labels = np.array([[0, 3, np.nan], [1, 1, 1], [2, np.nan, np.nan], [0, 1, 2]])
    d = annotator_disagreement(labels, 4)
    assert d[:3].tolist() == pytest.approx([1.0, 0.0, 0.0])  # one label alone: no disagreement seen
    assert d[3] == pytest.approx((1 + 2 + 1) / 3 / 3)
    assert annotator_disagreement(np.array([[1, 0], [1, 1]]), 2).tolist() == [1.0, 0.0]  # a binary finding
    probs = np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 1.0]])
    assert model_consensus_disagreement(probs, [3, np.nan, 3]).tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert model_consensus_disagreement(probs, [-1, 0, 2]).tolist() == pytest.approx([0.0, 0.5 / 3, 1 / 3])


def test_frames_roll_up_to_videos():
    values, videos = [0.1, 0.9, 0.5, 0.2, 0.3], ["a", "a", "b", "a", "b"]
    assert per_video(values, videos, reduce="max") == {"a": 0.9, "b": 0.5}
    assert per_video(values, videos, reduce="mean") == pytest.approx({"a": 0.4, "b": 0.4})
    assert per_video(values, videos, reduce="top_mean", top=2) == pytest.approx({"a": 0.55, "b": 0.4})
    assert per_video([0.5, 0.1], [7, 12]) == pytest.approx({7: 0.5, 12: 0.1})  # keys keep their type


def test_kmeans_finds_separated_clusters_and_k_center_spreads():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    x = np.concatenate([c + rng.normal(0, 0.3, (40, 2)) for c in centres])
    labels, found = kmeans(x, 3, seed=1)
    assert len(set(labels[:40])) == len(set(labels[40:80])) == len(set(labels[80:])) == 1
    assert len(set(labels)) == 3
    assert np.sort(found[:, 0]).round(0).tolist() == [0.0, 0.0, 10.0]
    picked = k_center_greedy(x, 3, first=0)
    assert sorted(int(i) // 40 for i in picked) == [0, 1, 2]  # one per cluster
    more = k_center_greedy(x, 2, selected=list(picked))
    assert not set(more.tolist()) & set(picked.tolist())
    assert kmeans(x[:2], 5)[1].shape[0] == 2


def test_combine_weights_known_signals_only():
    score = combine({"entropy": [1.0, 0.0, np.nan], "model_consensus": [0.0, 1.0, np.nan]})
    w = DEFAULT_WEIGHTS
    assert score.tolist() == pytest.approx([w["entropy"] / (w["entropy"] + w["model_consensus"]),
                                            w["model_consensus"] / (w["entropy"] + w["model_consensus"]), 0.0])
    with pytest.raises(ValueError, match="no weight"):
        combine({"colour": [1.0]})


def test_rank_spreads_the_top_over_clusters_and_videos():
    rng = np.random.default_rng(0)
    # 30 near-identical frames of one video, all very uncertain; 30 varied frames of 30 videos, less so
    x = np.concatenate([rng.normal(0, 0.01, (30, 4)), rng.normal(5, 2, (30, 4))])
    s = np.concatenate([0.9 + rng.normal(0, 0.01, 30), rng.uniform(0, 0.8, 30)])
    videos = ["same"] * 30 + [f"v{i}" for i in range(30)]
    plain = rank(s, k=5)
    assert all(i < 30 for i in plain[:5])  # without diversity: the near-duplicates fill the top
    diverse = rank(s, embeddings=x, k=5)
    assert sum(i < 30 for i in diverse[:5]) == 1 and diverse[0] == plain[0]
    capped = rank(s, groups=videos, k=5, max_per_group=2)
    assert sum(videos[i] == "same" for i in capped[:5]) == 2
    kcenter = rank(s, embeddings=x, k=5, diversity="kcenter")
    assert sum(i < 30 for i in kcenter[:5]) == 1
    for order in (plain, diverse, capped, kcenter):
        assert sorted(order.tolist()) == list(range(60))  # every item once
    with pytest.raises(ValueError, match="diversity must be"):
        rank(s, embeddings=x, diversity="dpp")
