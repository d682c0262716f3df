"""Which labels train a model: the data selection of a TrainingJob, validated at submission."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml.agreement.consensus import Rule as ConsensusRule

CONSENSUS_RULES: tuple[ConsensusRule, ...] = ("majority", "median", "most_expert")
LABEL_KINDS = ("frame", "video")


@dataclass(frozen=True)
class DataSelection:
    """Labels of which annotators (None: every human), at which minimum validation level, combined by
    which consensus rule, kept where at least `min_agree` raters agree, from which patients/sites.

    `label_kind="video"` gives every frame its video's consensus score (a weak label, as for COVID-BLUeS);
    `frame_step` keeps every n-th frame of each video.

    Segmentation jobs read contours instead of scores under the same rules (`label_kind` does not apply):
    one annotator's mask where one drew, else the consensus mask (`most_expert`: the most expert one's;
    otherwise the pixel-wise majority, needing `min_agree` votes). CNN-LSTM video models read video scores.
    """

    annotators: list[int] | None = None
    min_level: int = 1
    consensus: ConsensusRule = "majority"  # checked in __post_init__ (from_dict takes any JSON)
    min_agree: int = 1
    patients: list[int] | None = None
    sites: list[int] | None = None
    label_kind: str = "frame"
    frame_step: int = 1
    test_patients: list[int] = field(default_factory=list)
    validation_fraction: float = 0.2  # share of patients held out for per-epoch validation

    def __post_init__(self) -> None:
        if self.consensus not in CONSENSUS_RULES:
            raise ValueError(f"consensus must be one of {', '.join(CONSENSUS_RULES)}, got {self.consensus!r}")
        if self.label_kind not in LABEL_KINDS:
            raise ValueError(f"label_kind must be 'frame' or 'video', got {self.label_kind!r}")
        if not 1 <= self.min_level <= 4:
            raise ValueError(f"min_level must be 1–4, got {self.min_level}")
        if self.min_agree < 1:
            raise ValueError(f"min_agree must be at least 1, got {self.min_agree}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.frame_step < 1:
            raise ValueError(f"frame_step must be at least 1, got {self.frame_step}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DataSelection:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown data selection field(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(f"bad data selection: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
