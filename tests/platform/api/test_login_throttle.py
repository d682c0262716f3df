"""Login throttling: 30 wrong passwords once got no 429. Past the limit of failures per user name, every
login of that name answers 429 with Retry-After, on the API's token endpoint, the viewer and the admin,
and each failure is logged."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.test import override_settings

from accounts.models import Role
from accounts.services import user_ensure

pytestmark = pytest.mark.django_db
LIMIT = 3


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


@override_settings(PLEURA_LOGIN_MAX_FAILURES_PER_USER=LIMIT)
def test_token_endpoint_answers_429_after_repeated_failures(client, caplog):
    user_ensure(username="alice", role=Role.ANNOTATOR, validation_level=1, password="a-good-password-42")
    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        for _ in range(LIMIT):
            wrong = client.post("/api/auth/token/", {"username": "alice", "password": "nope"},
                                content_type="application/json")
            assert wrong.status_code == 400
    assert sum("login failed for user 'alice'" in r.getMessage() for r in caplog.records) == LIMIT
    right = client.post("/api/auth/token/", {"username": "alice", "password": "a-good-password-42"},
                        content_type="application/json")
    assert right.status_code == 429 and int(right["Retry-After"]) > 0 and "too many" in right.json()["detail"]
    cache.clear()  # the window has passed
    assert client.post("/api/auth/token/", {"username": "alice", "password": "a-good-password-42"},
                       content_type="application/json").status_code == 200


@override_settings(PLEURA_LOGIN_MAX_FAILURES_PER_USER=LIMIT)
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_viewer_and_admin_logins_are_throttled_too(client, path):
    user_ensure(username="bob", role=Role.ADMIN, validation_level=4, password="a-good-password-42", is_staff=True)
    for _ in range(LIMIT):
        assert client.post(path, {"username": "bob", "password": "nope"}).status_code == 200  # the form again
    assert client.post(path, {"username": "bob", "password": "a-good-password-42"}).status_code == 429
    assert client.post(path, {"username": "someone-else", "password": "x"}).status_code == 200  # others unaffected


@override_settings(PLEURA_LOGIN_MAX_FAILURES_PER_USER=100, PLEURA_LOGIN_MAX_FAILURES_PER_ADDRESS=LIMIT)
def test_one_address_trying_many_names_is_throttled(client):
    for number in range(LIMIT):
        client.post("/api/auth/token/", {"username": f"guess{number}", "password": "x"},
                    content_type="application/json")
    assert client.post("/api/auth/token/", {"username": "another", "password": "x"},
                       content_type="application/json").status_code == 429
