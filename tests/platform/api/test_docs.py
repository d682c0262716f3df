"""/api/docs/ (Swagger UI) works offline: its assets are drf-spectacular-sidecar's static files, no CDN."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_docs_page_references_no_external_host(world):
    client = Client()
    client.force_login(world.admin)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls, html
    external = [url for url in urls if re.match(r"^(?:[a-z]+:)?//", url, re.IGNORECASE)]
    assert external == [], external
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html), html
    for url in urls:
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url
