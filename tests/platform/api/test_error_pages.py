"""Friendly HTML error pages in the viewer's look outside /api/; JSON errors under /api/."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from api.errors import forbidden, not_found, server_failure

pytestmark = pytest.mark.django_db


def test_html_error_pages_link_home_in_the_viewer_look():
    factory = RequestFactory()
    for response, status, heading in (
        (not_found(factory.get("/no/such/page/"), Exception()), 404, "Page not found"),
        (forbidden(factory.get("/dashboard/"), PermissionDenied()), 403, "Not allowed"),
        (server_failure(factory.get("/dashboard/")), 500, "Something went wrong"),
    ):
        html = response.content.decode()
        assert response.status_code == status
        assert heading in html
        assert 'href="/"' in html  # a way home
        assert "viewer/shared/style.css" in html
        assert "Traceback" not in html and "Using the URLconf" not in html


def test_api_errors_stay_json():
    factory = RequestFactory()
    for response, status in (
        (not_found(factory.get("/api/nothing/"), Exception()), 404),
        (forbidden(factory.get("/api/videos/"), PermissionDenied()), 403),
        (server_failure(factory.get("/api/videos/")), 500),
    ):
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert "detail" in json.loads(response.content)


def test_unknown_page_gets_the_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    api = client.get("/api/no/such/endpoint/")
    assert api.status_code == 404 and api["Content-Type"] == "application/json"


def test_error_pages_of_a_logged_in_user_show_no_empty_role(client):
    """The QA run saw "admin ·  · level " on the 404 page: error views have no page boot data."""
    from accounts.models import Role
    from accounts.services import user_ensure

    client.force_login(user_ensure(username="qa-admin", role=Role.ADMIN, validation_level=4))
    page = client.get("/nope/").content.decode()
    assert "qa-admin" in page and "· level" not in page
