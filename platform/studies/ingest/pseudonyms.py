"""Keyed, deterministic pseudonyms: patient codes, DICOM UIDs and stored file names.

All derive from one HMAC-SHA-256 under PLEURA_PSEUDONYM_KEY, so the same input always gets the same
pseudonym (files of one study stay together, references stay consistent) and nobody without the key
can recompute or confirm one from a guessed original.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid


def keyed_digest(value: str, *, key: str) -> bytes:
    """HMAC-SHA-256 of `value` under `key`; refuses an empty key (it would make guessable pseudonyms)."""
    if not key:
        raise ValueError("PLEURA_PSEUDONYM_KEY is empty: refusing to derive guessable patient codes")
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).digest()


def pseudonymous_code(patient_id: str, *, key: str) -> str:
    """Stable, non-reversible patient code from the original PatientID."""
    return f"DCM-{keyed_digest(patient_id.strip(), key=key).hex()[:12].upper()}"


def pseudonymous_uid(uid: str, *, key: str) -> str:
    """A replacement for a DICOM UID: '2.25.' and a name-based (version 5 layout) UUID as an integer.

    Deterministic, so a UID and every reference to it map to the same new UID (PS3.15 E.1 action U).
    """
    digest = keyed_digest(f"uid:{uid.strip()}", key=key)
    return f"2.25.{uuid.UUID(bytes=digest[:16], version=5).int}"


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def pseudonymous_file_name(*, sha256: str, patient_code: str, lung_zone: str, suffix: str, key: str) -> str:
    """The name a video is stored and shown under, never the uploaded file's (which often holds the
    patient's name or MRN): '<patient code>[_<lung zone>]_<8 hex of a keyed digest of its SHA-256><suffix>'."""
    tag = keyed_digest(f"file:{sha256}", key=key).hex()[:8]
    parts = [SAFE_NAME.sub("_", part).strip("._") for part in (patient_code, lung_zone)]
    return "_".join([*(part for part in parts if part), tag]) + suffix
