"""The "pleura_natural" collation: names compare with their numbers as numbers (patient_2 < patient_10, and
patient_10_L1 < patient_10_R1 < patient_11_L1), in the database, so paginated lists stay ordered.

PostgreSQL: an ICU collation with numeric ordering (`en-u-kn-true`), created by migration 0003.
SQLite (the embedded demo): the same order from a Python comparison, registered on every connection.
"""

from __future__ import annotations

import re
from typing import Any

NATURAL = "pleura_natural"
_PARTS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that compares digit runs as numbers and the rest case-insensitively."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                 for part in _PARTS.split(text) if part)


def _compare(a: str, b: str) -> int:
    key_a, key_b = natural_key(a), natural_key(b)
    return (key_a > key_b) - (key_a < key_b)


def register_sqlite_collation(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created`: SQLite connections learn the natural collation."""
    if connection.vendor == "sqlite":
        connection.connection.create_collation(NATURAL, _compare)
