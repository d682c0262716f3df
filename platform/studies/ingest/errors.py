"""The one error ingestion raises for bad input, always naming the file and the reason."""

from __future__ import annotations

from core.errors import InvalidInput


class IngestError(InvalidInput):
    """A file could not be imported; `str()` reads "<file name>: <reason>"."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")
