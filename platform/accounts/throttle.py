"""Login throttling: wrong passwords are counted per user name and per client address, and past a limit
every login attempt (right or wrong) answers 429 until the window passes.

Failures are counted from Django's `user_login_failed` signal, which the viewer's login, the admin's and
the API's token endpoint all send (they all call `authenticate`); each failure is logged. Counts live in
the cache (`CACHES`: a shared Redis cache where several server processes run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import is_api

logger = logging.getLogger(__name__)

#: The endpoints that take a password.
LOGIN_PATHS = ("/login/", "/admin/login/", "/api/auth/token/")
KEY_PREFIX = "login-failures"


def _limits() -> tuple[int, int, int]:
    """(failures per user name, failures per address, window in seconds), from the settings."""
    return (settings.PLEURA_LOGIN_MAX_FAILURES_PER_USER, settings.PLEURA_LOGIN_MAX_FAILURES_PER_ADDRESS,
            settings.PLEURA_LOGIN_WINDOW_S)


def client_address(request: HttpRequest | None) -> str:
    return str(request.META.get("REMOTE_ADDR", "")) if request is not None else ""


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"{KEY_PREFIX}:user:{username.strip().lower()[:150]}", f"{KEY_PREFIX}:address:{address}"


def _increment(key: str, window: int) -> int:
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


def login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Receiver of `user_login_failed`: count and log the failure."""
    _, _, window = _limits()
    username, address = str(credentials.get("username", "")), client_address(request)
    user_key, address_key = _keys(username, address)
    failures = _increment(user_key, window)
    _increment(address_key, window)
    logger.warning("login failed for user %r from %s (%d within %d s)", username, address or "?", failures, window)


def login_blocked(username: str, address: str) -> bool:
    """Whether this user name or this address has failed too often within the window."""
    per_user, per_address, _ = _limits()
    user_key, address_key = _keys(username, address)
    return int(cache.get(user_key, 0)) >= per_user or int(cache.get(address_key, 0)) >= per_address


def _posted_username(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return ""
        return str(body.get("username", "")) if isinstance(body, dict) else ""
    return str(request.POST.get("username", ""))


class LoginThrottleMiddleware:
    """Answers 429 (JSON under /api/) to login attempts of a blocked user name or address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.method == "POST" and request.path in LOGIN_PATHS
                and login_blocked(_posted_username(request), client_address(request))):
            _, _, window = _limits()
            message = "too many failed logins; try again later"
            response: HttpResponse = (JsonResponse({"detail": message}, status=429)
                                      if is_api(request)
                                      else HttpResponse(message, status=429, content_type="text/plain"))
            response["Retry-After"] = str(window)
            return response
        return self.get_response(request)
