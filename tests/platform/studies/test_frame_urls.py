"""Signed frame URLs: only what the API signed is served, until it expires, without a database query."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.test import Client

from studies.frame_urls import (
    PREFIX,
    expiry,
    link_token,
    resolve,
    signed_path,
    signing_key,
    with_signed_frames,
)

KEY = signing_key("test-secret")
NOW = 1_800_000_000.0


def _split(url: str) -> tuple[str, str]:
    path, _, query = url.partition("?")
    return path, query


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "v1" / "frames").mkdir(parents=True)
    (tmp_path / "v1" / "frames" / "000000.png").write_bytes(b"\x89PNG fake")
    return tmp_path


def test_signed_url_serves_the_file(media: Path) -> None:
    found = resolve(KEY, media, *_split(signed_path(KEY, "v1/frames/000000.png", now=NOW)), now=NOW)
    assert found.status.startswith("200") and found.path == media / "v1/frames/000000.png"
    headers = dict(found.headers)
    assert headers["Content-Type"] == "image/png" and "immutable" in headers["Cache-Control"]
    assert headers["ETag"].startswith('"')


def test_url_is_stable_within_a_day_and_expires() -> None:
    assert signed_path(KEY, "a.png", now=NOW) == signed_path(KEY, "a.png", now=NOW + 60)
    assert expiry(NOW) - NOW > 24 * 3600


@pytest.mark.parametrize("tamper", ["other-name", "other-expiry", "other-key", "no-signature"])
def test_tampered_urls_are_refused(media: Path, tamper: str) -> None:
    path, query = _split(signed_path(KEY, "v1/frames/000000.png", now=NOW))
    if tamper == "other-name":
        path = path.replace("000000", "000001")
    elif tamper == "other-expiry":
        query = query.replace("e=", "e=9")
    elif tamper == "other-key":
        path, query = _split(signed_path(signing_key("another"), "v1/frames/000000.png", now=NOW))
    else:
        query = ""
    assert resolve(KEY, media, path, query, now=NOW).status.startswith("403")


def test_expired_url_is_refused(media: Path) -> None:
    url = signed_path(KEY, "v1/frames/000000.png", now=NOW)
    assert resolve(KEY, media, *_split(url), now=NOW + 3 * 24 * 3600).status.startswith("403")


def test_only_png_files_inside_media(media: Path) -> None:
    for name in ("../secret.png", "v1/source.mp4"):
        assert resolve(KEY, media, *_split(signed_path(KEY, name, now=NOW)), now=NOW).status.startswith("404")


def test_signed_names_outside_the_media_folder_are_not_served(media: Path, tmp_path_factory) -> None:
    """A valid signature on an absolute path, or a link leading out of the media folder, served the file."""
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    (media / "v1" / "frames" / "link.png").symlink_to(outside)
    for name in (str(outside), "/" + str(outside).lstrip("/"), "v1/frames/link.png"):
        assert resolve(KEY, media, *_split(signed_path(KEY, name, now=NOW)), now=NOW).status.startswith("404"), name


def test_etag_gives_not_modified(media: Path) -> None:
    url = signed_path(KEY, "v1/frames/000000.png", now=NOW)
    etag = dict(resolve(KEY, media, *_split(url), now=NOW).headers)["ETag"]
    found = resolve(KEY, media, *_split(url), if_none_match=etag, now=NOW)
    assert found.status.startswith("304") and found.path is None


def test_wsgi_layer_answers_frames_and_passes_the_rest(media: Path) -> None:
    calls: list[str] = []

    def django_app(environ, start_response):  # type: ignore[no-untyped-def]
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"django"]

    app = with_signed_frames(django_app, key=KEY, media_root=media)
    path, query = _split(signed_path(KEY, "v1/frames/000000.png"))
    statuses: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET",
                         "wsgi.input": io.BytesIO()}, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and body == b"\x89PNG fake" and calls == []
    app({"PATH_INFO": "/api/sites/", "REQUEST_METHOD": "GET"}, lambda *a: None)
    assert calls == ["/api/sites/"]
    assert PREFIX == "/frames/"


@pytest.mark.django_db
def test_api_signs_only_visible_frames_and_django_serves_them(world, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.ann_a)
    with django_assert_max_num_queries(4):
        page = client.get(f"/api/frames/?video={world.v1.pk}").json()
    frames = page["results"]
    assert frames and all(f["image_url"].startswith("/frames/") for f in frames)
    assert client.get(f"/api/frames/?video={world.v2.pk}").json()["results"] == []  # not assigned to ann-a
    first = world.frames(world.v1)[0]
    response = Client().get(frames[0]["image_url"])  # no login needed: the signature is the permission
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == first.image.open("rb").read()
    assert Client().get(frames[0]["image_url"].replace("s=", "s=0")).status_code == 403


def test_nginx_secure_link_token_is_added_only_with_a_link_secret() -> None:
    """`m` is what nginx's secure_link_md5 "$secure_link_expires$uri <secret>" computes (the expected value is
    `echo -n "1800144000/frames/v1/frames/000000.png link-secret" | openssl md5 -binary | base64url`)."""
    plain = signed_path(KEY, "v1/frames/000000.png", now=NOW)
    with_link = signed_path(KEY, "v1/frames/000000.png", now=NOW, link_secret="link-secret")
    assert "m=" not in plain
    assert with_link == f"{plain}&m=gXCeYYE4avYrxP1H-AgqwQ"
    assert link_token("link-secret", "v1/frames/000000.png", expiry(NOW)) == "gXCeYYE4avYrxP1H-AgqwQ"


def test_urls_with_the_nginx_token_still_resolve_in_django(media: Path) -> None:
    url = signed_path(KEY, "v1/frames/000000.png", now=NOW, link_secret="link-secret")
    assert resolve(KEY, media, *_split(url), now=NOW).status.startswith("200")
