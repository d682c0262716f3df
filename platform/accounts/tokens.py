"""API tokens that expire: DRF's tokens (one per user, `rest_framework.authtoken`) with a lifetime.

A token is good for PLEURA_TOKEN_TTL_HOURS after it was issued; then the API answers 401 and the client logs
in again at POST /api/auth/token/, which replaces it. A password change revokes the user's tokens
(`accounts.services.tokens_revoke_on_password_change`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_ttl() -> timedelta:
    return timedelta(hours=settings.PLEURA_TOKEN_TTL_HOURS)


def token_expires_at(token: Token) -> datetime:
    return token.created + token_ttl()


def token_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused with a 401 that says so once the token has expired."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(f"token expired at {token_expires_at(token).isoformat()}; "
                                       "get a new one from POST /api/auth/token/")
        return user, token
