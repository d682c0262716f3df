"""One error shape for every API response: {"detail": "...", "errors": {"field.path": ["message"]}}."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist, loader
from django.views.defaults import bad_request as defaults_bad_request
from django.views.defaults import page_not_found, permission_denied, server_error
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, Conflict

logger = logging.getLogger(__name__)

#: What the database driver raises when the server cannot be reached or went away mid-request (refused,
#: closed, "terminating connection due to administrator command", a dead connection reused) and for
#: transient refusals (SQLite's "database is locked"): worth retrying, never the server's fault to report.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def _flatten(value: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(value, dict):
        out: dict[str, list[str]] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return {prefix or "non_field_errors": [str(v) for v in value]}
    if isinstance(value, list):
        out = {}
        for index, inner in enumerate(value):
            if inner:
                out.update(_flatten(inner, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(value)]}


def exception_handler(exc: Exception, context: dict) -> Any:
    """DRF's handler, plus the application errors services raise (core.errors): each answers its own
    status with its payload; a conflict is 412 instead of 409 when the client sent If-Match."""
    request = context.get("request")
    if isinstance(exc, DATABASE_UNAVAILABLE) and request is not None:
        return database_unavailable(request, exc)
    if isinstance(exc, ApplicationError):
        code = exc.status
        if isinstance(exc, Conflict) and request is not None and request.headers.get("If-Match"):
            code = status.HTTP_412_PRECONDITION_FAILED
        return Response(exc.payload(), status=code)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = {"detail": "invalid request; nothing was written", "errors": _flatten(exc.detail)}
    return response


API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    """Whether the request is the API's: its errors are JSON, the pages' HTML."""
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception) -> Any:
    """JSON 404s under /api/ (a malformed id in a URL is a 404 like any other), HTML elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def forbidden(request: HttpRequest, exception: Exception) -> Any:
    """JSON 403s under /api/, the viewer's friendly page (403.html) elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return permission_denied(request, exception)


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After when the database cannot be reached: JSON under /api/, the friendly page
    (503.html, rendered without a request context: the session and user need the database) elsewhere.

    Logged here, once, as one line without a traceback; Django's own log line for the response is
    skipped (it would be a second, with the traceback of an outage that is not a bug)."""
    first_line = next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
    logger.warning("database unavailable: %s %s answered 503 (%s: %s)", request.method, request.path,
                   type(exc).__name__, first_line)
    response: HttpResponse
    if is_api(request):
        response = JsonResponse({"detail": "the database is unavailable; nothing was written, try again shortly"},
                                status=503)
    else:
        try:
            page = loader.get_template("503.html").render()
        except TemplateDoesNotExist:
            page = "<h1>Service unavailable</h1><p>Try again in a moment.</p>"
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(settings.PLEURA_DATABASE_RETRY_AFTER_S)
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
    return response


class DatabaseUnavailableMiddleware:
    """Views outside DRF (the login page, the viewer's pages) answer 503 instead of 500 when the database
    is unavailable. Failures in middleware (a session saved after the view) reach `server_failure`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(request, exception) if isinstance(exception, DATABASE_UNAVAILABLE) else None


def server_failure(request: HttpRequest) -> Any:
    """JSON 500s under /api/, the viewer's friendly page (500.html) elsewhere; 503 when the uncaught error
    is the database being unavailable (Django calls this inside its `except`, so the error is at hand)."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_UNAVAILABLE):
        return database_unavailable(request, error)
    if is_api(request):
        return JsonResponse({"detail": "server error"}, status=500)
    return server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> Any:
    """JSON under /api/ like every API error: a body over the size limit is 413 (the README's promise), too
    many form fields or files 400; HTML elsewhere."""
    if not is_api(request):
        return defaults_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": "the request body is larger than this server accepts"}, status=413)
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return JsonResponse({"detail": "the request has more fields or files than this server accepts"},
                            status=400)
    return JsonResponse({"detail": "bad request"}, status=400)
