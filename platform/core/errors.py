"""The application errors: what a person did wrong or must resolve, raised by services.

Services raise these with a message for people; one handler (`api.errors.exception_handler`) turns them
into HTTP answers, so views carry no try/except copies. Command-line callers print the message.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Base of the family. `status` is the HTTP status; `errors` maps field paths to messages."""

    status = 400

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.detail = message if detail is None else detail

    def payload(self) -> dict[str, Any]:
        """The API body: {"detail": ..., "errors": {...}} (errors only when there are some). `detail` is
        the message unless the raiser gave a summary (a long field-by-field message reads badly there)."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return body


class InvalidInput(ApplicationError, ValueError):
    """The request cannot be carried out as asked (400). Also a ValueError, for non-HTTP callers."""


class NotFound(ApplicationError, LookupError):
    """Something the request names does not exist (404)."""

    status = 404


class Conflict(ApplicationError):
    """The state changed since the client read it (409; 412 when the client sent If-Match).
    `current` is the state now, so the client can merge."""

    status = 409

    def __init__(self, message: str, *, current: Any = None) -> None:
        super().__init__(message)
        self.current = current

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        if self.current is not None:
            body["current"] = self.current
        return body


class PreconditionRequired(Conflict):
    """A change of something that exists must say which version it was based on (428): without one it
    would silently overwrite whatever is there now. `current` is that state, so the client can merge."""

    status = 428
