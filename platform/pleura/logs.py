"""Structured logs (issue 18, item 6): one JSON object per line when PLEURA_LOG_FORMAT=json, for a log
collector (Loki, Elasticsearch, journald); plain text otherwise (the demo's default).

Each line of a web request carries its request id (the proxy's X-Request-ID when it sends a sane one, else a
new one, echoed in the response) and the user id once authentication has run; a worker's lines carry the
Celery task id and name (pleura.worker_signals sets them).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import Error as DatabaseDriverError
from django.http import HttpRequest, HttpResponse

#: Context of the current request or task, added to every log record of it.
LOG_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("pleura_log_context", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: LogRecord's own attributes: everything else on a record came through `extra=` and is logged too.
RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def bind(**values: Any) -> contextvars.Token[dict[str, Any] | None]:
    return LOG_CONTEXT.set({**(LOG_CONTEXT.get() or {}), **values})


class ContextFilter(logging.Filter):
    """Copies the request's or task's context onto the record (the text format can name them too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (LOG_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", ...context and extra fields, "exception"?} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in (LOG_CONTEXT.get() or {}).items():
            entry.setdefault(key, value)
        for key, value in vars(record).items():
            if key not in RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting for PLEURA_LOG_FORMAT (json or text)."""
    formatter = {"()": "pleura.logs.JsonFormatter"} if log_format == "json" else {
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"context": {"()": "pleura.logs.ContextFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        # Django's default config gives the "django" logger its own console handler (DEBUG only) and it
        # propagates to the root's: every request line of runserver/daphne (django.channels.server) and
        # every "Not Found" printed twice. Here it only propagates, so each line prints once.
        "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
    }


class RequestContextMiddleware:
    """Binds request_id (and user_id after authentication) to the request's log lines."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = bind(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            LOG_CONTEXT.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request: HttpRequest, *args: object) -> None:
        user = getattr(request, "user", None)  # session users here; token users are known inside DRF only
        try:
            if user is not None and user.is_authenticated:
                bind(user_id=user.pk)
        except DatabaseDriverError:  # session unreadable: the view meets it again, api.errors answers 503 and logs it
            pass
