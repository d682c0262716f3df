"""Writes on users."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Role, User
from .tokens import token_expired


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


@transaction.atomic
def token_issue(*, user: User) -> Token:
    """The user's API token: the current one while it is valid, else a new one (an expired one is replaced)."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not token_expired(token):
        return token
    if token is not None:
        token.delete()
    return Token.objects.get_or_create(user=user)[0]  # a concurrent first login may have just made it


def tokens_revoke(*, user: User) -> int:
    """Delete every API token of the user (logout, password change); how many there were."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted


def tokens_revoke_on_password_change(sender: type[User], instance: User, raw: bool = False,
                                     update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    """Receiver of the user's `pre_save`: a new password hash revokes the user's tokens, wherever it was set
    (the API, the Django admin, `changepassword`, `set_password` anywhere). Django's rehash of a password on
    login after a hasher upgrade counts as a change too: the client logs in again."""
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        tokens_revoke(user=instance)
