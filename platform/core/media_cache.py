"""Stored media as local files, for code that needs a path (the ml core, torch.load, archive writers).

With a folder storage (FileSystemStorage, the embedded demo) the stored file is the local file: nothing is
copied. With object storage (django-storages' S3 backend) a worker keeps a bounded local cache instead, so a
GPU worker on another machine needs only the database, the broker and the bucket:

- bounded: PLEURA_MEDIA_CACHE_BYTES; filling past it evicts the least recently used files (a file's mtime is
  its last use) down to 90 % of the limit, never a file pinned by the running job (`media_session`);
- checksummed: a fill streams to a temporary file, hashing as it goes, and is renamed into place only when its
  size matches the object's and, where the backend has one, its MD5 matches the object's ETag (single-part
  uploads); the SHA-256 is kept beside it. A cached file is revalidated (size and ETag, one HEAD) once per
  session, so a storage name freed and reused never serves stale bytes to a new job.

One cache folder per worker process (PLEURA_MEDIA_CACHE_DIR): pins are known to their own process only.
This is the one module that asks a storage for a local path (`storage.path`, folder storages only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage

logger = logging.getLogger(__name__)
CHUNK = 1 << 20
LOW_WATERMARK = 0.9


class MediaCacheError(OSError):
    """A fill whose bytes do not match the stored object (after a retry)."""


def is_local(storage: Storage | None = None) -> bool:
    """Whether the storage is a local folder (its files need no cache)."""
    return isinstance(storage or default_storage, FileSystemStorage)


def _remote_stat(handle: object, storage: Storage, name: str) -> tuple[int, str]:
    """(size, ETag or "") of an opened stored file; S3 files carry the object's HEAD, others ask for the size."""
    obj = getattr(handle, "obj", None)
    if obj is not None:
        return int(obj.content_length), str(obj.e_tag or "").strip('"')
    return int(storage.size(name)), ""


class MediaCache:
    """A bounded, checksummed, LRU folder of stored files, keyed by storage name."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = Path(root), int(max_bytes)
        self.pinned: set[Path] | None = None  # inside a session: files the running job uses
        self.validated: set[str] = set()
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes cached, counted once then kept up to date (no scan per fill)

    def entry(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()
        return self.root / "objects" / digest[:2] / (digest + Path(name).suffix)

    @staticmethod
    def _meta(path: Path) -> Path:
        return path.with_name(path.name + ".json")

    def local(self, name: str, storage: Storage) -> Path:
        """The cached copy of `name`, filled (and checked) on a miss."""
        path = self.entry(name)
        with self._lock:
            if path.is_file() and self._still_valid(path, name, storage):
                os.utime(path)
            else:
                self._fill(path, name, storage)
            if self.pinned is not None:
                self.pinned.add(path)
        return path

    def _still_valid(self, path: Path, name: str, storage: Storage) -> bool:
        try:
            meta = json.loads(self._meta(path).read_text())
        except (OSError, ValueError):
            return False
        if meta.get("name") != name or meta.get("size") != path.stat().st_size:
            return False
        if name in self.validated:
            return True
        try:
            with storage.open(name, "rb") as handle:
                size, etag = _remote_stat(handle, storage, name)
        except FileNotFoundError:
            return False
        valid = size == meta["size"] and etag == meta.get("etag", "")
        if valid and self.pinned is not None:
            self.validated.add(name)
        return valid

    def _fill(self, path: Path, name: str, storage: Storage) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            try:
                sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
                with storage.open(name, "rb") as source, os.fdopen(fd, "wb") as target:
                    expected_size, etag = _remote_stat(source, storage, name)
                    while block := source.read(CHUNK):
                        sha.update(block)
                        md5.update(block)
                        size += len(block)
                        target.write(block)
                etag_ok = not etag or "-" in etag or etag == md5.hexdigest()  # multipart ETags are no MD5
                if size != expected_size or not etag_ok:
                    raise MediaCacheError(f"{name}: {size} bytes (md5 {md5.hexdigest()}) where the storage has "
                                          f"{expected_size} (ETag {etag})")
                self._evict(incoming=size)
                os.replace(tmp, path)
                self._meta(path).write_text(json.dumps({"name": name, "size": size, "sha256": sha.hexdigest(),
                                                        "etag": etag}))
                if self.pinned is not None:
                    self.validated.add(name)
                return
            except MediaCacheError:
                if attempt == 2:
                    raise
                logger.warning("media cache: fill of %s did not match, retrying", name)
            finally:
                Path(tmp).unlink(missing_ok=True)

    def usage(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every cached file."""
        found = []
        for path in (self.root / "objects").glob("*/*"):
            if path.name.endswith((".json", ".part")):
                continue
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path))
        return found

    def _evict(self, *, incoming: int) -> None:
        if self._total is None:
            self._total = sum(size for _, size, _ in self.usage())
        self._total += incoming
        if self._total <= self.max_bytes:
            return
        files = self.usage()  # over the limit: count again (other processes may have filled or evicted)
        total = sum(size for _, size, _ in files) + incoming
        target = int(self.max_bytes * LOW_WATERMARK)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= target:
                break
            if self.pinned is not None and path in self.pinned:
                continue
            path.unlink(missing_ok=True)
            self._meta(path).unlink(missing_ok=True)
            total -= size
        if total > self.max_bytes:
            logger.warning("media cache over its limit (%d > %d bytes): the running job's files alone exceed it; "
                           "raise PLEURA_MEDIA_CACHE_BYTES", total, self.max_bytes)
        self._total = total


_caches: dict[tuple[str, int], MediaCache] = {}


def media_cache() -> MediaCache:
    """This process's cache, as the settings configure it."""
    key = (str(settings.PLEURA_MEDIA_CACHE_DIR), int(settings.PLEURA_MEDIA_CACHE_BYTES))
    if key not in _caches:
        _caches[key] = MediaCache(Path(key[0]), key[1])
    return _caches[key]


def local_path(name: str, *, storage: Storage | None = None) -> Path:
    """A local file with the stored file's bytes: the file itself in a folder storage, else the cached copy."""
    storage = storage or default_storage
    if isinstance(storage, FileSystemStorage):
        return Path(storage.path(name))
    return media_cache().local(name, storage)


def local_folder(name: str) -> Path:
    """A local working folder (job checkpoints, embedding files): inside the media folder of a folder storage
    (as before object storage), else beside this worker's cache."""
    if isinstance(default_storage, FileSystemStorage):
        folder = Path(default_storage.location) / name
    else:
        folder = Path(settings.PLEURA_MEDIA_CACHE_DIR) / "work" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def media_session() -> Iterator[MediaCache]:
    """Run one job: the files it materialises stay cached until it ends (eviction skips them) and each is
    revalidated against the storage at most once."""
    cache = media_cache()
    outer = cache.pinned
    if outer is None:
        cache.pinned, cache.validated = set(), set()
    try:
        yield cache
    finally:
        if outer is None:
            cache.pinned, cache.validated = None, set()
