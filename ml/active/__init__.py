"""Active learning: which frames or videos are worth labelling next (informativeness from model outputs
and labels, diversity by embedding clustering, one ranking). Pure numpy, never imports Django or torch.

    score = combine({"entropy": entropy(probs), "model_consensus": model_consensus_disagreement(probs, y)})
    order = rank(score, embeddings=x, groups=videos, k=20, max_per_group=2)
"""

from .diversity import k_center_greedy, kmeans, pairwise_sq_distances
from .informativeness import (
    annotator_disagreement,
    entropy,
    margin,
    mc_variance,
    model_consensus_disagreement,
    mutual_information,
    per_video,
    rank_scaled,
)
from .ranking import DEFAULT_WEIGHTS, DIVERSITY, combine, rank

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIVERSITY",
    "annotator_disagreement",
    "combine",
    "entropy",
    "k_center_greedy",
    "kmeans",
    "margin",
    "mc_variance",
    "model_consensus_disagreement",
    "mutual_information",
    "pairwise_sq_distances",
    "per_video",
    "rank",
    "rank_scaled",
]
