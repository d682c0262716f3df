"""Inter-rater agreement for LUS scores and contours (NumPy only; never imports Django).

Ratings are ``(n_items, n_raters)`` float matrices with NaN for missing ratings and integer scores
``0..categories - 1`` (items are frames or videos). Undefined statistics are ``None`` (scalars) or NaN
(inside arrays); :func:`agreement_report` turns them into ``null`` plus a reason.

Modules: ``ordinal`` (percent agreement, Cohen / Fleiss kappa, Krippendorff's alpha, the leave-one-out
measure of Roy et al. 2020), ``consensus`` (consensus rules, Setting-3 filter, bias / confusion),
``masks`` (pairwise Dice / IoU of contour masks, majority-vote masks), ``report`` (JSON / CSV report).
"""

from .consensus import at_least_agree, consensus, rater_bias, rater_confusion
from .masks import (
    COVID_MARKERS,
    DEFAULT_CLASSES,
    consensus_mask,
    consensus_mask_batch,
    pairwise_dice,
    pairwise_dice_batch,
)
from .ordinal import (
    LeaveOneOutAgreement,
    as_ratings,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    leave_one_out_agreement,
    leave_one_out_reference,
    pairwise_cohen_kappa,
    pairwise_percent_agreement,
    percent_agreement,
)
from .report import CSV_FIELDS, agreement_report, report_to_csv_rows

__all__ = [
    "COVID_MARKERS",
    "CSV_FIELDS",
    "DEFAULT_CLASSES",
    "LeaveOneOutAgreement",
    "agreement_report",
    "as_ratings",
    "at_least_agree",
    "cohen_kappa",
    "consensus",
    "consensus_mask",
    "consensus_mask_batch",
    "fleiss_kappa",
    "krippendorff_alpha",
    "leave_one_out_agreement",
    "leave_one_out_reference",
    "pairwise_cohen_kappa",
    "pairwise_dice",
    "pairwise_dice_batch",
    "pairwise_percent_agreement",
    "percent_agreement",
    "rater_bias",
    "rater_confusion",
    "report_to_csv_rows",
]
