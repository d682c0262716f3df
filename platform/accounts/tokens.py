"""API tokens that expire: DRF's tokens (one per user, `rest_framework.authtoken`) with a lifetime.

A token is good for PLEURA_TOKEN_TTL_HOURS after it was issued; then the API answers 401 and the client logs
in again at POST /api/auth/token/, which replaces it. A password change revokes the user's tokens
(`accounts.services.tokens_revoke_on_password_change`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from .models import User


def token_ttl() -> timedelta:
    return timedelta(hours=settings.PLEURA_TOKEN_TTL_HOURS)


def token_expires_at(token: Token) -> datetime:
    return token.created + token_ttl()


def token_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused with a 401 that says so once the token has expired.

    On PostgreSQL the user and the token's issue time come from one raw statement (`User.objects.raw`):
    DRF's `select_related` query cost ~1 ms of ORM building on every API call, the largest fixed cost of a
    label save (issue 16). SQLite (the embedded demo) keeps DRF's query."""

    @cached_property
    def user_by_token_sql(self) -> str:
        tokens, users = Token._meta.db_table, User._meta.db_table
        return (f"SELECT u.*, t.created AS token_created FROM {users} u JOIN {tokens} t ON t.user_id = u.id "
                "WHERE t.key = %s")

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if connection.vendor != "postgresql":  # SQLite (the embedded demo): the extra column comes unconverted
            user, token = super().authenticate_credentials(key)
            return self.unexpired(user, token)
        found = list(User.objects.raw(self.user_by_token_sql, [key]))
        if not found:
            raise AuthenticationFailed("Invalid token.")
        user = found[0]
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        token = Token(key=key, user=user, created=user.token_created)  # type: ignore[attr-defined]  # from the SELECT
        return self.unexpired(user, token)

    @staticmethod
    def unexpired(user: Any, token: Token) -> tuple[Any, Token]:
        if token_expired(token):
            raise AuthenticationFailed(f"token expired at {token_expires_at(token).isoformat()}; "
                                       "get a new one from POST /api/auth/token/")
        return user, token
