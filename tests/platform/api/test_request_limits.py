"""Oversized or overstuffed request bodies get JSON errors under /api/ (they were HTML 400s)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import Role
from accounts.services import user_ensure

pytestmark = pytest.mark.django_db


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_body_over_the_limit_is_a_json_413(client):
    client.force_login(user_ensure(username="boss", role=Role.ADMIN, validation_level=4))
    response = client.post("/api/agreement-reports/", data="{" + '"x": 1,' * 500 + '"y": 2}',
                           content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json" and "larger" in response.json()["detail"]


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_many_form_fields_is_a_json_400(client):
    client.force_login(user_ensure(username="boss", role=Role.ADMIN, validation_level=4))
    response = client.post("/api/imports/", {f"f{i}": "1" for i in range(50)})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
