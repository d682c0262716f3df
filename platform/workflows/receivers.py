"""Receivers of the lower apps' events: each calls one service of an app above the sender."""

from __future__ import annotations

from typing import Any

from agreement.services import agreement_reports_labels_changed
from annotations.signals import scores_changed
from modelling.services import videos_score_if_model_active
from studies.signals import videos_ingested

DISPATCH_PREFIX = "workflows."


def score_new_videos(sender: Any, *, video_ids: list[int], **kwargs: Any) -> None:
    """New videos are scored by the active models, if any (sent after the ingestion committed)."""
    videos_score_if_model_active(video_ids)


def mark_agreement_stale(sender: Any, **kwargs: Any) -> None:
    """Agreement reports go stale when scores change; one refresh is queued for many changes."""
    agreement_reports_labels_changed()


def connect() -> None:
    """Connect every receiver once (dispatch ids make a second call harmless)."""
    videos_ingested.connect(score_new_videos, dispatch_uid=DISPATCH_PREFIX + "score_new_videos")
    scores_changed.connect(mark_agreement_stale, dispatch_uid=DISPATCH_PREFIX + "mark_agreement_stale")
