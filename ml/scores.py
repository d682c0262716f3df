"""The LUS severity scale (Soldati et al.): integer scores 0..3. The one definition in Pleura.

Torch-free, so the platform imports it as cheaply as the ml core does."""

from __future__ import annotations

#: How many scores the scale has; models output this many probabilities.
NUM_SCORES = 4
#: The highest score (scores are 0..MAX_SCORE).
MAX_SCORE = NUM_SCORES - 1
#: Every score, in order.
SCORES: tuple[int, ...] = tuple(range(NUM_SCORES))


def is_score(value: object) -> bool:
    """True for an int (not a bool) on the scale."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SCORE
