"""Idempotency-Key for writes (IETF draft-ietf-httpapi-idempotency-key-header, as Stripe does it).

A write answered with an error may still have been applied: the connection can die after COMMIT, before
the answer reaches the client. A client that sends the same `Idempotency-Key` with its retry gets the first
answer replayed (with `Idempotent-Replayed: true`) instead of the change applied twice, because the key
and the answer are stored in the write's own transaction: either both committed or neither did.

- same key, same request (method, path, body): the stored answer, replayed;
- same key, another request: 422, nothing written;
- same key while the first request is still running: 409, nothing written (try again later);
- no key: the write runs as before. Keys are per user and forgotten after PLEURA_IDEMPOTENCY_KEY_TTL_S.

Only successful (2xx) answers are stored: a refused write wrote nothing, so running it again is safe.
Apply with `@idempotent` on a DRF view method; it adds the header to the OpenAPI schema.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError, InvalidInput

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
#: Set on a replayed answer (Stripe's name; the draft names none).
REPLAYED_HEADER = "Idempotent-Replayed"
#: Answer headers stored and replayed with the body.
KEPT_HEADERS = ("ETag", "Location")
MAX_KEY_LENGTH = IdempotencyKey._meta.get_field("key").max_length or 255

PARAMETER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False,
    description="A unique value per logical change (e.g. a UUID), sent again unchanged with every retry of it: "
                "a retry of a write that was applied gets the first answer back (header "
                f"{REPLAYED_HEADER}: true) instead of applying it twice. The same key with another request "
                "is 422; while the first request with it is still running, 409. Kept "
                "PLEURA_IDEMPOTENCY_KEY_TTL_S seconds (a day by default).")


class IdempotencyKeyReused(ApplicationError):
    """The key came with another request before (422): a client bug, or two changes given one key."""

    status = 422


class IdempotencyKeyInFlight(ApplicationError):
    """The first request with this key is still running (409): retry once it has been answered. Its
    field error names the header, which tells it from a label conflict (frontend/shared/saver.js)."""

    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message, errors={HEADER: ["in flight: retry once the first request is answered"]})


def key_from(request: Request) -> str | None:
    """The request's key (quotes of the draft's sf-string form taken off), or None when it sent none."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(f"{HEADER} must be 1–{MAX_KEY_LENGTH} printable ASCII characters",
                           errors={HEADER: [f"1–{MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID"]})
    return key


def fingerprint(request: Request) -> str:
    """SHA-256 of what makes two requests the same change: method, path with query, parsed body."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form data)
        data = {name: values for name, values in data.lists()}
    text = json.dumps([request.method, request.get_full_path(), data], sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(user_id: int, key: str) -> bool:
    """Take the key for this transaction; False while another transaction holds it. SQLite (the embedded
    demo) serialises writers, and the unique constraint catches what slips through."""
    if connection.vendor != "postgresql":
        return True
    digest = hashlib.blake2b(f"idempotency:{user_id}:{key}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
        return bool(cursor.fetchone()[0])


class StoredAnswer(NamedTuple):
    fingerprint: str
    status: int
    body: Any
    headers: dict[str, str]


# PostgreSQL: statements whose text never changes, instead of the ORM's per-call query building (they ran
# on every label save the viewer makes; issue 16's write-path budget). Run with the key claimed, so
# nothing else writes this key meanwhile: a separate statement after claim() sees what committed before.
_TABLE = IdempotencyKey._meta.db_table
STORED_SQL = f"SELECT id, fingerprint, status, body, headers, expires_at <= %s FROM {_TABLE} WHERE user_id = %s AND key = %s"
DELETE_SQL = f"DELETE FROM {_TABLE} WHERE id = %s"
STORE_SQL = f"""
WITH expired AS (DELETE FROM {_TABLE} WHERE user_id = %(user)s AND expires_at <= %(now)s)
INSERT INTO {_TABLE} (user_id, key, fingerprint, status, body, headers, created_at, expires_at)
VALUES (%(user)s, %(key)s, %(fingerprint)s, %(status)s, %(body)s::jsonb, %(headers)s::jsonb, %(now)s, %(expires)s)
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _stored(user_id: int, key: str) -> StoredAnswer | None:
    """The key's stored answer, unless expired (an expired one is deleted: the key is free again)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(STORED_SQL, [now, user_id, key])
            found = cursor.fetchone()
            if found is None:
                return None
            pk, digest, status, body, headers, expired = found
            if expired:
                cursor.execute(DELETE_SQL, [pk])
                return None
        return StoredAnswer(digest, status, _json(body), _json(headers))
    row = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
    if row is None:
        return None
    if row.expires_at <= now:
        row.delete()
        return None
    return StoredAnswer(row.fingerprint, row.status, row.body, row.headers)


def _store(user_id: int, key: str, digest: str, response: Response) -> None:
    """Keep the answer with the key (and forget this user's expired keys), in the write's transaction."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.PLEURA_IDEMPOTENCY_KEY_TTL_S)
    body = getattr(response, "data", None)
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    if connection.vendor == "postgresql":  # the key is claimed (advisory lock) and was absent: no conflict
        with connection.cursor() as cursor:
            cursor.execute(STORE_SQL, {
                "user": user_id, "key": key, "fingerprint": digest, "status": response.status_code,
                "body": json.dumps(body, cls=DjangoJSONEncoder), "headers": json.dumps(headers), "now": now,
                "expires": expires})
        return
    IdempotencyKey.objects.filter(user_id=user_id, expires_at__lte=now).delete()  # this user's expired keys
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(user_id=user_id, key=key, fingerprint=digest, status=response.status_code,
                                          body=body, headers=headers, expires_at=expires)
    except IntegrityError:  # another request stored the key first (SQLite): undo this one's write
        raise IdempotencyKeyInFlight("a request with this Idempotency-Key was answered meanwhile; "
                                     "send it again to get that answer") from None


def replay(row: StoredAnswer) -> Response:
    return Response(row.body, status=row.status, headers={**row.headers, REPLAYED_HEADER: "true"})


def schema_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation taking the header documents its 409 and 422
    (the error shape, ErrorSerializer's component), beside the answers its view documents."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or not any(
                    parameter.get("name") == HEADER for parameter in operation.get("parameters", [])):
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("409", {**error, "description": "a request with this key is still running"})
            responses.setdefault("422", {**error, "description": "this key came with another request"})
    return result


View = Callable[..., Response]


def idempotent(view_method: View) -> View:
    """Make a DRF view method honour Idempotency-Key (see the module's docstring): the method runs, and its
    2xx answer is stored, in one transaction with the key held, so a retry never applies a change twice."""

    @functools.wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = key_from(request)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        digest, user_id = fingerprint(request), request.user.pk
        with transaction.atomic():
            if not claim(user_id, key):
                raise IdempotencyKeyInFlight("a request with this Idempotency-Key is still running; "
                                             "send it again once it has been answered")
            row = _stored(user_id, key)
            if row is not None:
                if row.fingerprint != digest:
                    raise IdempotencyKeyReused(f"this {HEADER} was used for another request; "
                                               "use a new key for a new change")
                return replay(row)
            response = view_method(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                _store(user_id, key, digest, response)
            return response

    wrapper.kwargs = dict(getattr(view_method, "kwargs", {}))  # type: ignore[attr-defined]  # spectacular's
    return extend_schema(parameters=[PARAMETER])(wrapper)
