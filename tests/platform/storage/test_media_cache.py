"""core.media_cache against moto's S3 server: bounded, LRU, checksummed; folder storage needs no copy; signed
frame URLs served from the bucket with the same caching headers."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from core.media_cache import MediaCache, MediaCacheError, local_path, media_session
from studies.frame_urls import frame_image_url, signing_key, with_signed_frames

REPO = Path(__file__).resolve().parents[3]


def test_a_folder_storage_gives_the_stored_file_itself(media_root: Path):
    name = default_storage.save("frames/1/000000.png", ContentFile(b"png"))
    assert local_path(name) == media_root / name


def test_fills_are_checked_reused_and_evicted_least_recently_used_first(s3_storage, tmp_path: Path):
    names = [default_storage.save(f"frames/9/{i:06d}.png", ContentFile(bytes([i]) * 400)) for i in range(3)]
    cache = MediaCache(tmp_path / "c", max_bytes=1000)
    first = cache.local(names[0], default_storage)
    assert first.read_bytes() == bytes([0]) * 400 and first.with_name(first.name + ".json").is_file()
    cache.local(names[1], default_storage)
    cache.local(names[0], default_storage)  # a hit: names[0] is now the most recently used
    cache.local(names[2], default_storage)  # over 1000 bytes: the least recently used (names[1]) goes
    assert cache.entry(names[0]).is_file() and not cache.entry(names[1]).is_file() and cache.entry(names[2]).is_file()
    assert sum(size for _, size, _ in cache.usage()) <= 1000


def test_files_of_the_running_job_are_never_evicted(s3_storage, tmp_path: Path, settings):
    settings.PLEURA_MEDIA_CACHE_DIR, settings.PLEURA_MEDIA_CACHE_BYTES = tmp_path / "pinned", 1000
    names = [default_storage.save(f"frames/8/{i:06d}.png", ContentFile(bytes([i]) * 400)) for i in range(3)]
    with media_session():
        paths = [local_path(name) for name in names]  # 1200 bytes: over the limit, but all in use
        assert all(path.is_file() for path in paths)
    assert all(path.read_bytes() == bytes([i]) * 400 for i, path in enumerate(paths))


def test_a_damaged_copy_is_fetched_again(s3_storage, tmp_path: Path):
    name = default_storage.save("frames/7/000000.png", ContentFile(b"x" * 100))
    cache = MediaCache(tmp_path / "c", max_bytes=10_000)
    cache.local(name, default_storage).write_bytes(b"truncated")
    assert cache.local(name, default_storage).read_bytes() == b"x" * 100


def test_bytes_that_do_not_match_the_etag_are_refused(tmp_path: Path):
    class Handle:
        obj = SimpleNamespace(content_length=3, e_tag='"00000000000000000000000000000000"')

        def __init__(self) -> None:
            self.left = b"abc"

        def read(self, _: int) -> bytes:
            out, self.left = self.left, b""
            return out

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *_: object) -> None:
            return None

    storage = SimpleNamespace(open=lambda name, mode: Handle())
    cache = MediaCache(tmp_path / "c", max_bytes=10_000)
    with pytest.raises(MediaCacheError):
        cache.local("frames/1/000000.png", storage)  # type: ignore[arg-type]
    assert not cache.usage()


def test_no_media_path_is_asked_for_outside_the_cache():
    pattern = re.compile(r"(storage|weights|image|file)\.path\(|MEDIA_ROOT\)? */")
    offenders = [f"{path.relative_to(REPO)}:{number}" for root in (REPO / "platform", REPO / "ml")
                 for path in root.rglob("*.py") if path.name != "media_cache.py" and "settings" not in path.parts
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_signed_frame_urls_are_served_from_the_bucket_with_the_same_caching(s3_storage, client: Client, settings):
    name = default_storage.save("frames/5/000003.png", ContentFile(b"\x89PNG-frame"))
    url = frame_image_url(name)
    assert url is not None and url.startswith("/frames/")
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content if response.streaming else
                                                     [response.content]) == b"\x89PNG-frame"
    assert "immutable" in response["Cache-Control"] and response["Content-Type"] == "image/png"
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert client.get(url.replace("s=", "s=0")).status_code == 403

    statuses: list[str] = []
    app = with_signed_frames(lambda environ, start: [b"django"], key=signing_key(settings.SECRET_KEY),
                             media_root=default_storage)
    path, query = url.split("?")
    body = b"".join(app({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"},
                        lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and body == b"\x89PNG-frame"
