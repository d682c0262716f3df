"""Reads for the viewer's agreement page: what a report's scope can be made of.

Sites, the people who made human labels (the raters a report can compare) and the model versions that
can join as an extra rater; reports themselves come from the agreement API (/api/agreement-reports/).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from accounts.models import User
from agreement.selectors import KINDS
from annotations.models import Contour, FrameScore, LabelSource, VideoFinding, VideoScore
from modelling.models import ModelKind, ModelVersion
from studies.models import Site

from .natural import natural_order

CONSENSUS_RULES = ("most_expert", "majority", "median")
# Which model versions predict what a report of each kind compares.
MODEL_KINDS_FOR = {"frame": (ModelKind.FRAME_SCORER,),
                   "video": (ModelKind.EMBEDDING, ModelKind.AGGREGATOR, ModelKind.SEQUENCE, ModelKind.FRAME_SCORER), "contour": (),
                   "finding": ()}


def agreement_options() -> dict[str, Any]:
    """Three queries: sites, raters (anyone with a human label), model versions."""
    labelled = [Exists(model.objects.filter(annotator=OuterRef("pk"), source=LabelSource.HUMAN))
                for model in (FrameScore, VideoScore, Contour, VideoFinding)]
    raters = (User.objects.filter(labelled[0] | labelled[1] | labelled[2] | labelled[3]).order_by("username")
              .values("id", "username", "role", "validation_level"))
    return {
        "kinds": list(KINDS),
        "consensus_rules": list(CONSENSUS_RULES),
        "sites": list(Site.objects.order_by(*natural_order("name")).values("id", "name")),
        "raters": list(raters),
        "model_versions": list(ModelVersion.objects.order_by("-created_at")
                               .values("id", "kind", "name", "is_active")),
        "model_kinds_for": {kind: list(kinds) for kind, kinds in MODEL_KINDS_FOR.items()},
    }
