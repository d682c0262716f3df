"""The API layer's own rows: the Idempotency-Keys of label writes (api.idempotency)."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class IdempotencyKey(models.Model):
    """A write sent with an Idempotency-Key and the answer it got, stored in the write's own transaction:
    if the write committed, so did this row, and a retry with the key gets the answer back instead of
    writing again (even when the connection died after COMMIT and the client saw an error)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             help_text="Keys are per user: two people may pick the same key")
    key = models.CharField(max_length=255, help_text="The client's Idempotency-Key header")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body the key came with")
    status = models.PositiveSmallIntegerField(help_text="HTTP status of the answer")
    body = models.JSONField(null=True, encoder=DjangoJSONEncoder, help_text="The answer's body, replayed as is")
    headers = models.JSONField(default=dict, blank=True, help_text="Answer headers replayed with it (ETag)")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="After this the key is forgotten (PLEURA_IDEMPOTENCY_KEY_TTL_S)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]
        indexes = [models.Index(fields=["user", "expires_at"], name="idempotency_key_expiry")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
