"""Burned-in annotation: refuse it, or zero the configured rectangles of a known scanner's screen.

A DICOM file with BurnedInAnnotation=YES carries text in its pixels, often the patient's name or MRN,
which no tag-level de-identification removes. Such a file is refused unless PLEURA_BURNED_IN_MASKS
holds rectangles for it: a list of rules `{"manufacturer": ..., "model": ..., "rects": [[x, y, width,
height], ...]}` in pixels from the top-left corner; a rule without manufacturer or model matches every
file (a global mask), names compare case-insensitively, and the rectangles of every matching rule are
zeroed in every frame and in the stored DICOM copy (Clean Pixel Data Option, PS3.15 E.3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .errors import IngestError

Rect = tuple[int, int, int, int]  # x, y, width, height


def masks_for(*, manufacturer: str, model: str, name: str) -> list[Rect]:
    """The rectangles to zero for a file that declares burned-in annotation; IngestError when none."""
    rects = [rect for rule in settings.PLEURA_BURNED_IN_MASKS if _matches(rule, manufacturer, model)
             for rect in _rects(rule)]
    if not rects:
        scanner = " ".join(part for part in (manufacturer, model) if part) or "unknown scanner"
        raise IngestError(name, f"the DICOM file declares burned-in annotation (BurnedInAnnotation=YES): its "
                                f"pixels may show the patient's identity, and no mask is configured for "
                                f"{scanner!r} in PLEURA_BURNED_IN_MASKS; the file was not imported")
    return rects


def _matches(rule: dict[str, Any], manufacturer: str, model: str) -> bool:
    for key, value in (("manufacturer", manufacturer), ("model", model)):
        wanted = str(rule.get(key) or "").strip().casefold()
        if wanted and wanted != value.strip().casefold():
            return False
    return True


def _rects(rule: dict[str, Any]) -> list[Rect]:
    rects = []
    for rect in rule.get("rects") or []:
        if len(rect) != 4 or any(int(v) < 0 for v in rect):
            raise ImproperlyConfigured(f"PLEURA_BURNED_IN_MASKS: a rectangle is [x, y, width, height] >= 0, "
                                       f"got {rect!r}")
        x, y, width, height = (int(v) for v in rect)
        rects.append((x, y, width, height))
    return rects


def zero_rects(image: np.ndarray, rects: Sequence[Rect], *, rows_axis: int = 0) -> np.ndarray:
    """Zero `rects` in place in `image`, whose rows and columns are axes `rows_axis` and the next one
    ((H, W), (H, W, C) with 0; (frames, H, W[, C]) with 1); parts outside the image are ignored."""
    for x, y, width, height in rects:
        index: list[slice] = [slice(None)] * image.ndim
        index[rows_axis], index[rows_axis + 1] = slice(y, y + height), slice(x, x + width)
        image[tuple(index)] = 0
    return image
