"""One error shape for every API response: {"detail": "...", "errors": {"field.path": ["message"]}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.views.defaults import bad_request as defaults_bad_request
from django.views.defaults import page_not_found, permission_denied, server_error
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, Conflict


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
    if isinstance(exc, ApplicationError):
        code = exc.status
        request = context.get("request")
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


def server_failure(request: HttpRequest) -> Any:
    """JSON 500s under /api/, the viewer's friendly page (500.html) elsewhere."""
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
