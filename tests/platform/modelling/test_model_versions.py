"""Model output tables: one active version per kind, one prediction per item and version."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from modelling.models import ModelKind, ModelVersion

pytestmark = pytest.mark.django_db


def test_only_one_active_version_per_kind():
    ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    ModelVersion.objects.create(kind=ModelKind.AGGREGATOR, name="uninorm", is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
