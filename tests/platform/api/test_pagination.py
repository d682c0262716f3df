"""Limit/offset lists answer absurd numbers with a bounded page, never a database error (once a 500)."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from api.pagination import MAX_OFFSET, BoundedLimitOffset
from studies.services import site_ensure

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/sites/", "/api/patients/", "/api/exams/"])
@pytest.mark.parametrize("query", ["limit=36893488147419103231", "offset=36893488147419103231",
                                   "limit=99999999999999999999&offset=99999999999999999999"])
def test_huge_limits_and_offsets_are_bounded(client, path, query):
    site_ensure(name="Maastricht")
    client.force_login(user_ensure(username="boss", role=Role.ADMIN, validation_level=4))
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) <= BoundedLimitOffset.max_limit


def test_the_offset_bound_fits_a_database_integer():
    assert MAX_OFFSET < 2**63
