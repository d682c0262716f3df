"""Writes on users."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import Role, User


@transaction.atomic
def user_ensure(*, username: str, role: str, validation_level: int, password: str | None = None,
                is_staff: bool = False, is_superuser: bool = False) -> User:
    """Create the user if missing, or bring its role/level up to date; the password is only set
    when given (so re-running the demo keeps what a person changed)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"role": role, "validation_level": validation_level,
                  "is_staff": is_staff, "is_superuser": is_superuser},
    )
    if not created:
        user.role, user.validation_level = role, validation_level
        user.is_staff, user.is_superuser = is_staff, is_superuser
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.save()
    return user


def user_create(*, username: str, password: str | None = None, **fields: Any) -> User:
    """A new user; without a password it cannot log in until an admin sets one."""
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def user_update(*, user: User, password: str | None = None, **fields: Any) -> User:
    """Change a user's fields; the password only when given."""
    for key, value in fields.items():
        setattr(user, key, value)
    if password:
        user.set_password(password)
    user.save()
    return user
