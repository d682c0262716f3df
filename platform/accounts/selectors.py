"""Reads on users: the one definition of who counts as an admin."""

from __future__ import annotations

from .models import Role


def is_admin(user: object) -> bool:
    """Role admin or a superuser (anonymous users never are)."""
    return bool(getattr(user, "is_authenticated", False)
                and (getattr(user, "is_superuser", False) or getattr(user, "role", None) == Role.ADMIN))
