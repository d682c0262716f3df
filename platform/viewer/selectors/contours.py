"""Other people's contours on a video and how each agrees with their consensus, for the frame views.

Validators see the polygons of lower validation levels, clinicians and admins everyone's (the domain's
`labels_visible_to`). Per frame that at least two of those people contoured, their masks (rasterised at
frame resolution by `ml.geometry.rasterise`) vote per pixel (`ml.agreement.consensus_mask`, ties are
background), and each person's Dice against that consensus (`ml.metrics.dice`, every marker class pooled)
is reported, mine too where I contoured the frame. Computed on request, not with the page's first state:
rasterising stays off the first-frame path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from accounts.models import User
from annotations.models import Contour
from annotations.selectors import labels_visible_to
from studies.models import Video

MARKER_CLASSES = (1, 2, 3, 4)  # class ids of the markers of scores 0–3 (0 is the background)


def contours_of_others(*, user: User, video: Video, revealed: bool | None = None) -> dict[int, list[dict[str, Any]]]:
    """annotator id -> their contours on `video` that `user` may see (never `user`'s own), frame order."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (labels_visible_to(user, Contour, revealed=revealed).filter(frame__video=video).exclude(annotator=user)
            .order_by("frame_id", "id").values_list("id", "annotator_id", "frame_id", "segmentation_class__index",
                                                     "vertices"))
    for pk, annotator, frame, cls, vertices in rows:
        found[annotator].append({"id": pk, "frame": frame, "segmentation_class": cls, "vertices": vertices})
    return dict(found)


def contour_agreement(*, user: User, video: Video) -> list[dict[str, Any]]:
    """Per frame that two or more other people contoured: [{frame, raters, dice: {annotator id: Dice},
    mine: my Dice or None}], Dice against the others' consensus mask (NaN, both empty: reported as None)."""
    import numpy as np

    from ml.agreement import consensus_mask
    from ml.geometry import rasterise

    drawn: dict[int, dict[int, dict[int, list]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    rows = (labels_visible_to(user, Contour).filter(frame__video=video)
            .values_list("annotator_id", "frame_id", "segmentation_class__index", "vertices"))
    for annotator, frame, cls, vertices in rows:
        drawn[frame][annotator][cls].append(vertices)
    height, width = video.height, video.width
    result = []
    for frame in sorted(drawn):
        people = {person: polygons for person, polygons in drawn[frame].items() if person != user.pk}
        if len(people) < 2:
            continue
        order = sorted(people)
        masks = {person: rasterise(people[person], height, width) for person in order}
        consensus = consensus_mask(np.stack([masks[person] for person in order]))

        mine = drawn[frame].get(user.pk)
        result.append({"frame": frame, "raters": len(order),
                       "dice": {str(person): _dice(masks[person], consensus) for person in order},
                       "mine": _dice(rasterise(mine, height, width), consensus) if mine else None})
    return result


def _dice(mask: Any, consensus: Any) -> float | None:
    """Dice of every marker pooled, rounded; None where both masks are empty."""
    import math

    from ml.metrics import dice

    value = dice(mask, consensus, MARKER_CLASSES)
    return None if math.isnan(value) else round(value, 4)
