"""Database unavailable (issue 16, item 5): 503 with Retry-After, never a 500 with a traceback; JSON under
/api/, the friendly page elsewhere; one log line, whether the failure is in a DRF view, a plain view or
middleware around the view (the session)."""

from __future__ import annotations

import logging

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError, connection
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

REFUSED = OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                           "Connection refused\n\tIs the server running on that host?")
TERMINATED = OperationalError("terminating connection due to administrator command\n"
                              "server closed the connection unexpectedly")


def _fail(error: Exception):  # type: ignore[no-untyped-def]
    def raiser(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error
    return raiser


def _assert_503(response, *, api: bool) -> None:  # type: ignore[no-untyped-def]
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"].isdigit() and int(response["Retry-After"]) > 0
    assert "Traceback" not in body and "OperationalError" not in body and "5432" not in body
    if api:
        assert response["Content-Type"] == "application/json"
        assert "unavailable" in response.json()["detail"]
    else:
        assert "Unavailable for a moment" in body and 'href="/"' in body


def _unavailable_lines(caplog) -> list[logging.LogRecord]:  # type: ignore[no-untyped-def]
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_api_answers_503_json_when_token_auth_cannot_reach_the_database(client, world, caplog):
    token = Token.objects.create(user=world.admin).key
    table = Token._meta.db_table

    def refused(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if table in sql:  # the token's lookup, however the authentication writes it
            raise REFUSED
        return execute(sql, params, many, context)

    with caplog.at_level(logging.INFO), connection.execute_wrapper(refused):
        response = client.get("/api/videos/", HTTP_AUTHORIZATION=f"Token {token}")
    _assert_503(response, api=True)
    lines = _unavailable_lines(caplog)
    assert len(lines) == 1 and "database unavailable" in lines[0].getMessage() and not lines[0].exc_info


def test_api_view_losing_its_connection_mid_request_is_503(client, world, monkeypatch):
    from annotations import apis

    client.force_login(world.ann_a)
    monkeypatch.setattr(apis, "frame_scores_write", _fail(TERMINATED))
    frame = world.frames(world.v1)[2]
    response = client.post(f"/api/videos/{world.v1.pk}/frame-scores/",
                           {"items": [{"frame": frame.pk, "score": 1}]}, content_type="application/json")
    _assert_503(response, api=True)


def test_viewer_page_is_the_friendly_503_when_the_session_cannot_be_read(client, world, monkeypatch, caplog):
    client.force_login(world.ann_a)
    monkeypatch.setattr(SessionStore, "load", _fail(InterfaceError("connection already closed")))
    with caplog.at_level(logging.INFO):
        response = client.get("/worklist/")
    _assert_503(response, api=False)
    assert len(_unavailable_lines(caplog)) == 1


def test_login_is_503_when_the_session_cannot_be_written(client, world, monkeypatch, caplog):
    world.ann_a.set_password("pw-ann-a-123")
    world.ann_a.save()
    monkeypatch.setattr(SessionStore, "save", _fail(TERMINATED))
    with caplog.at_level(logging.INFO):
        response = client.post("/login/", {"username": "ann-a", "password": "pw-ann-a-123"})
    _assert_503(response, api=False)
    lines = _unavailable_lines(caplog)
    assert len(lines) == 1 and not lines[0].exc_info


def test_failure_in_middleware_after_the_view_is_503(client, world, monkeypatch, caplog):
    """The session middleware saves a changed session after the view returned: Django turns what it raises
    into the handler500 page, which answers 503 for the database (and Django logs no second line)."""
    from django.contrib.sessions.middleware import SessionMiddleware

    monkeypatch.setattr(SessionMiddleware, "process_response", _fail(TERMINATED))
    client.raise_request_exception = False
    with caplog.at_level(logging.INFO):
        page, api = client.get("/login/"), client.get("/api/findings/")
    _assert_503(page, api=False)
    _assert_503(api, api=True)
    lines = _unavailable_lines(caplog)
    assert len(lines) == 2 and not any(line.exc_info for line in lines)


def test_other_server_errors_stay_500(client, world, monkeypatch):
    from annotations import apis

    client.force_login(world.ann_a)
    monkeypatch.setattr(apis, "frame_scores_write", _fail(RuntimeError("a bug")))
    client.raise_request_exception = False
    frame = world.frames(world.v1)[2]
    response = client.post(f"/api/videos/{world.v1.pk}/frame-scores/",
                           {"items": [{"frame": frame.pk, "score": 1}]}, content_type="application/json")
    assert response.status_code == 500 and "Retry-After" not in response


def test_under_asgi_too(world, monkeypatch):
    """daphne serves through Django's ASGI handler, which runs the error handling in another thread."""
    from asgiref.sync import async_to_sync
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.test import AsyncClient

    monkeypatch.setattr(SessionMiddleware, "process_response", _fail(TERMINATED))
    client = AsyncClient(raise_request_exception=False)
    _assert_503(async_to_sync(client.get)("/login/"), api=False)
    _assert_503(async_to_sync(client.get)("/api/findings/"), api=True)
