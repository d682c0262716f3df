"""`/healthz`: can this process serve? Readiness for load balancers, compose and Kubernetes.

No authentication and nothing secret in the answer (only "ok"/"unavailable" per dependency): probes come
from the orchestrator, not from users. 200 when the database and the broker (and the channel layer's Redis
where one is set) answer within a second or two, 503 otherwise, so traffic goes to another replica while
this one cannot reach them. `/livez` is liveness: the process answers HTTP, nothing else is checked, so a
database outage takes replicas out of rotation (readiness) without restarting them all (liveness).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
TIMEOUT_S = 2.0


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure is "not ready", logged for the operator
        logger.warning("health: database unavailable", exc_info=True)
        return False


def redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        logger.warning("health: redis unavailable", exc_info=True)
        return False


def broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return redis_ok(url)
    if url.startswith("filesystem://"):  # the embedded mode's folder broker
        return Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])).is_dir()
    return True  # another transport: not checked here


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_ok(), "broker": broker_ok()}
    if settings.CHANNEL_REDIS_URL:
        checks["channels"] = redis_ok(settings.CHANNEL_REDIS_URL)
    body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
    return JsonResponse({"status": "ok" if all(checks.values()) else "unavailable", **body},
                        status=200 if all(checks.values()) else 503)


@never_cache
@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
