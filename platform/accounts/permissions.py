"""Role-based permissions shared by every app's endpoints."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.selectors import is_admin


class IsAdminRole(BasePermission):
    """Admins (role admin, or superusers) only."""

    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return is_admin(request.user)


class IsAdminOrReadOnly(BasePermission):
    """Everyone authenticated reads (what their role may see); admins write."""

    message = "Only admins may change this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if request.method in SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return is_admin(request.user)
