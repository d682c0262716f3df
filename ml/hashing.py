"""Content identity of files: the one SHA-256 of a file Pleura uses (imports made idempotent by it in the
platform, cached embeddings keyed by it in the ml core). Torch-free, so the web process imports it cheaply."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 20


def file_sha256(path: str | Path, chunk: int = CHUNK_BYTES) -> str:
    """SHA-256 of a file's bytes, read in chunks of `chunk` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
