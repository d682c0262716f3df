"""Chromium: logging in lands each role on its page, with working navigation and no console errors."""

from __future__ import annotations

import pytest

from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser


def test_login_and_navigation(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("admin-1", "admin", 4)
    session = browse()
    session.page.goto(f"{session.server.url}/")
    assert "/login/" in session.page.url
    session.shot("login")
    session.login("admin-1")
    assert session.page.url.endswith("/dashboard/")
    for name in ("Worklist", "Review", "Agreement", "Dashboard"):
        assert session.page.get_by_role("link", name=name).is_visible()


def test_wrong_password_is_explained(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("ann-1", "annotator")
    session = browse()
    session.page.goto(f"{session.server.url}/login/")
    session.page.get_by_label("Username").fill("ann-1")
    session.page.get_by_label("Password").fill("wrong")
    session.page.get_by_role("button", name="Log in").click()
    assert session.page.get_by_role("alert").is_visible()
