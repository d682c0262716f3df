"""Viewer page shells: login required, each role lands on its page, and pages refuse other roles."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import Role
from tests.platform.viewer.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

PAGES = {"worklist": "/worklist/", "review": "/review/", "dashboard": "/dashboard/", "agreement": "/agreement/",
         "assignments": "/assignments/"}
OPEN_TO = {
    Role.ANNOTATOR: {"worklist"},
    Role.VALIDATOR: {"worklist", "review", "agreement"},
    Role.CLINICIAN: {"review", "agreement"},
    Role.ADMIN: {"worklist", "review", "agreement", "dashboard", "assignments"},
}
HOME = {Role.ANNOTATOR: "/worklist/", Role.VALIDATOR: "/worklist/", Role.CLINICIAN: "/review/",
        Role.ADMIN: "/dashboard/"}


def _client(role: str) -> Client:
    make_user(f"u-{role}", role)
    client = Client()
    assert client.login(username=f"u-{role}", password=PASSWORD)
    return client


def test_pages_need_login() -> None:
    for path in [*PAGES.values(), "/"]:
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path


def test_login_page_renders() -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b"csrfmiddlewaretoken" in response.content


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_page(role: str) -> None:
    response = _client(role).get("/")
    assert response.status_code == 302 and response["Location"] == HOME[role]


@pytest.mark.parametrize("role", list(Role))
def test_pages_open_only_to_their_roles(role: str) -> None:
    client = _client(role)
    for name, path in PAGES.items():
        response = client.get(path)
        expected = 200 if name in OPEN_TO[role] else 403
        assert response.status_code == expected, (role, name, response.status_code)
        if expected == 200:
            boot = json.loads(response.content.split(b'id="boot" type="application/json">')[1].split(b"</script>")[0])
            assert boot["page"] == name and boot["user"]["role"] == role


def test_annotate_page_only_for_assigned_videos(world) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(world.ann_a)
    assert client.get(f"/videos/{world.v1.pk}/annotate/").status_code == 200
    assert client.get(f"/videos/{world.v2.pk}/annotate/").status_code == 404  # assigned to ann-b only
