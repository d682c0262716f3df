"""The Content-Security-Policy header on every response Django makes.

Django 6.0 builds this in (`django.middleware.csp.ContentSecurityPolicyMiddleware`, setting `SECURE_CSP`);
on 5.2 this middleware reads the same setting, a dict of directive → sources ("'self'", "data:", ...), so the
upgrade is a one-line swap in MIDDLEWARE. The policy needs no nonces (no page has an inline script or style),
so a fixed header is enough, and no package is needed for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"


def policy_header(policy: Mapping[str, Sequence[str] | bool]) -> str:
    """``{"default-src": ["'self'"], "upgrade-insecure-requests": True}`` → the header's value."""
    parts = []
    for directive, sources in policy.items():
        if sources is True:
            parts.append(directive)
        elif sources:
            parts.append(" ".join([directive, *sources]))  # type: ignore[list-item]
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Adds `SECURE_CSP` (enforced) and `SECURE_CSP_REPORT_ONLY` (reported) unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for header, name in ((HEADER, "SECURE_CSP"), (REPORT_ONLY_HEADER, "SECURE_CSP_REPORT_ONLY")):
            policy = getattr(settings, name, None)
            if policy and header not in response:
                response[header] = policy_header(policy)
        return response
