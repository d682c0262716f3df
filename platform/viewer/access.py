"""Which pages each role may open; the API enforces the same rules on every request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import Role, User
from studies.selectors import is_admin

PAGE_ROLES: dict[str, set[str]] = {
    "worklist": {Role.ANNOTATOR, Role.VALIDATOR, Role.ADMIN},
    "annotate": {Role.ANNOTATOR, Role.VALIDATOR, Role.ADMIN},
    "frames": {Role.CLINICIAN, Role.VALIDATOR, Role.ADMIN},  # read-only frame view with the model's output
    "validate": {Role.VALIDATOR, Role.ADMIN},
    "review": {Role.CLINICIAN, Role.VALIDATOR, Role.ADMIN},
    "dashboard": {Role.ADMIN},
    "assignments": {Role.ADMIN},  # linked from the dashboard
    "agreement": {Role.VALIDATOR, Role.CLINICIAN, Role.ADMIN},
    # the dataset for research: roles that see every label (the export API itself gives anyone what they may see)
    "exports": {Role.CLINICIAN, Role.ADMIN},
    "pacs": {Role.ADMIN},  # DICOMweb endpoints, search, import, results back (the pacs API is admin-only too)
}

HOME_PAGE: dict[str, str] = {Role.ANNOTATOR: "worklist", Role.VALIDATOR: "worklist", Role.CLINICIAN: "review",
             Role.ADMIN: "dashboard"}


def effective_role(user: User) -> str:
    return Role.ADMIN if is_admin(user) else user.role


def may_open(user: User, page: str) -> bool:
    return effective_role(user) in PAGE_ROLES[page]


def pages_for(user: User) -> list[str]:
    """Navigation entries in a fixed order (annotate/validate/frames need a video, so they are not listed)."""
    return [page for page in ("worklist", "review", "agreement", "dashboard", "exports", "pacs") if may_open(user, page)]


def page_for_roles(page: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Login required, then 403 unless the user's role may open `page`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not may_open(request.user, page):  # type: ignore[arg-type]
                raise PermissionDenied(f"The {page} page is not open to your role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def page_permission(page: str) -> type:
    """A DRF permission class: the endpoints behind a page answer 403 to roles that may not open it."""
    from rest_framework.permissions import BasePermission

    class MayOpenPage(BasePermission):
        message = f"The {page} page is not open to your role."

        def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
            return bool(request.user and request.user.is_authenticated and may_open(request.user, page))

    MayOpenPage.__name__ = f"MayOpen{page.capitalize()}"
    return MayOpenPage
