"""Chromium: /api/docs/ renders Swagger UI's operations with every host but 127.0.0.1 unreachable."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.platform.viewer.conftest import make_user

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_offline(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("docs-admin", "admin", 4)
    session = browse()
    blocked: list[str] = []

    def only_local(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    session.page.route("**/*", only_local)
    session.login("docs-admin")
    session.page.goto(f"{session.server.url}/api/docs/")
    session.page.wait_for_selector(".opblock", timeout=15000)
    assert session.page.locator(".opblock").count() > 10
    assert blocked == []
    session.shot("api-docs")
