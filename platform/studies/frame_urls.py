"""Signed frame URLs, served without a database round trip.

An authenticated API request costs a session or token lookup and a permission query per frame (about
5 ms of CPU); a viewer prefetching every frame of a video, with 32 people at work, queues behind that.
So the API signs a URL for each frame the caller may see: an HMAC over the file's storage name and an
expiry. Whatever can check the signature serves the bytes: the plain WSGI layer in `pleura/wsgi.py`
(no Django request at all), the Django view for other servers, or nginx `secure_link` in front.

The expiry is rounded to whole days, so a frame keeps the same URL for a day and browsers reuse their
cached copy; a leaked URL stops working within two days. Only frame PNGs are served this way; the
authenticated `/api/frames/<id>/image/` remains.

With object storage (S3, MinIO) the same handler streams the frame from the bucket after the same HMAC check,
rather than redirecting to a presigned URL: the URL, ETag and `Cache-Control: immutable` stay exactly as with
a folder (a presigned URL's signature changes with its signing time, so browsers would refetch), the bucket
need not be reachable from the wards' browsers (no public endpoint, no CORS), and a 304 costs no request to
the bucket. The price is the frame's bytes passing through the app process (one PNG of ~50-200 kB, once per
browser per day); nginx's proxy cache in front can take it (deploy/README.md).

nginx cannot compute an HMAC-SHA256, so with `PLEURA_FRAME_LINK_SECRET` set each URL also carries `m`, the
token nginx's `secure_link_md5 "$secure_link_expires$uri <secret>"` checks (deploy/nginx/pleura.conf): nginx
then serves frames from the media folder with no request to Django. Both cover the same name and expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote

if TYPE_CHECKING:
    from django.core.files.storage import Storage

PREFIX = "/frames/"
DAY = 24 * 3600


def signing_key(secret_key: str) -> bytes:
    """A key of its own, derived from SECRET_KEY (a frame signature must not sign anything else)."""
    return hashlib.sha256(b"pleura-frame-url\x00" + secret_key.encode()).digest()


def _signature(key: bytes, name: str, expires: int) -> str:
    return hmac.new(key, f"{name}\x00{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def expiry(now: float | None = None) -> int:
    """End of the day after today (UTC): stable for a day, valid for one to two days."""
    now = time.time() if now is None else now
    return (int(now) // DAY + 2) * DAY


def link_token(link_secret: str, name: str, expires: int) -> str:
    """nginx `secure_link_md5 "$secure_link_expires$uri <secret>"` of a frame: base64url MD5, no padding."""
    digest = hashlib.md5(f"{expires}{PREFIX}{name} {link_secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_path(key: bytes, name: str, *, now: float | None = None, link_secret: str = "") -> str:
    expires = expiry(now)
    url = f"{PREFIX}{quote(name)}?e={expires}&s={_signature(key, name, expires)}"
    return f"{url}&m={link_token(link_secret, name, expires)}" if link_secret else url


@dataclass(frozen=True)
class FrameFile:
    """What to send back: a status, headers, and the file to stream (None for errors and 304)."""

    status: str
    headers: list[tuple[str, str]]
    path: Path | None = None
    content: bytes | None = None  # the frame's bytes, read from object storage


def _error(status: str, message: str) -> FrameFile:
    return FrameFile(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                              ("X-Frame-Error", message)])


def _from_storage(storage: Storage, name: str, headers: list[tuple[str, str]]) -> FrameFile:
    try:
        with storage.open(name, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return _error("404 Not Found", "no such frame")
    return FrameFile("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(content))), *headers],
                     content=content)


def resolve(key: bytes, media_root: Path | Storage, path_info: str, query: str, if_none_match: str = "",
            *, now: float | None = None) -> FrameFile:
    """Check the signature and expiry of a `/frames/…` request and find its file: in the media folder
    (`media_root` a Path) or, for object storage, read from the storage."""
    name = unquote(path_info[len(PREFIX):])
    params = parse_qs(query)
    try:
        expires = int(params["e"][0])
        signature = params["s"][0]
    except (KeyError, ValueError, IndexError):
        return _error("403 Forbidden", "missing or malformed signature")
    if not hmac.compare_digest(signature, _signature(key, name, expires)):
        return _error("403 Forbidden", "bad signature")
    now = time.time() if now is None else now
    if expires < now:
        return _error("403 Forbidden", "expired; ask the API for a fresh URL")
    if not name.endswith(".png") or ".." in Path(name).parts:
        return _error("404 Not Found", "not a frame")
    if name.startswith("/"):
        return _error("404 Not Found", "not a frame")
    if isinstance(media_root, Path):
        path = media_root / name
        if not path.resolve().is_relative_to(media_root.resolve()):  # a link out of the folder
            return _error("404 Not Found", "not a frame")
    etag = f'"{hashlib.sha1(name.encode()).hexdigest()[:20]}"'
    headers = [("Cache-Control", f"private, max-age={int(expires - now)}, immutable"), ("ETag", etag)]
    if etag in [tag.strip() for tag in if_none_match.split(",")]:
        return FrameFile("304 Not Modified", headers)
    if not isinstance(media_root, Path):
        return _from_storage(media_root, name, headers)
    if not path.is_file():
        return _error("404 Not Found", "no such frame")
    return FrameFile("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(path.stat().st_size)),
                                *headers], path)


WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def with_signed_frames(app: WsgiApp, *, key: bytes, media_root: Path | Storage) -> WsgiApp:
    """Answer GET/HEAD `/frames/…` before Django sees the request; pass everything else to `app`."""

    def dispatch(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO", "")
        if not path_info.startswith(PREFIX) or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return app(environ, start_response)
        found = resolve(key, media_root, path_info, environ.get("QUERY_STRING", ""),
                        environ.get("HTTP_IF_NONE_MATCH", ""))
        start_response(found.status, found.headers)
        if environ["REQUEST_METHOD"] == "HEAD" or (found.path is None and found.content is None):
            return [b""]
        if found.path is None:
            return [found.content or b""]
        handle = found.path.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        return wrapper(handle, 1 << 16) if wrapper else iter(lambda: handle.read(1 << 16), b"")

    return dispatch


def django_signing_key() -> bytes:
    from django.conf import settings

    return signing_key(settings.SECRET_KEY)


def django_media_root() -> Path | Storage:
    """Where frames are served from: the media folder of a folder storage, else the storage itself."""
    from django.core.files.storage import FileSystemStorage, default_storage

    return Path(default_storage.location) if isinstance(default_storage, FileSystemStorage) else default_storage


def frame_image_url(name: str) -> str | None:
    """The signed URL of a stored frame (every storage serves it: see the module's docstring)."""
    from django.conf import settings

    return signed_path(django_signing_key(), name, link_secret=settings.PLEURA_FRAME_LINK_SECRET)
