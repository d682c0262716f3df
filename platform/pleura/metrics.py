"""Prometheus metrics (issue 18, item 6): request latency, queue depth, job durations, frames ingested.

One definition per metric, here. Several processes (gunicorn/daphne replicas, prefork workers) each count
their own: with PROMETHEUS_MULTIPROC_DIR set (an empty folder per host, emptied at start) prometheus_client
writes the values to files there and a scrape sums them (`MultiProcessCollector`). Queue depth is read
from the broker at scrape time (a Redis list per Celery queue), so it is the same whichever process answers.

`/metrics` is for the monitoring system, not for users: it answers only with the bearer token
PLEURA_METRICS_TOKEN, or to an address in PLEURA_METRICS_ALLOWED_IPS; 404 otherwise (no hint it exists).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "pleura_http_request_duration_seconds", "Time to answer an HTTP request, by route name and status class.",
    ["route", "method", "status"],
)
JOB_DURATION = Histogram(
    "pleura_job_duration_seconds", "Run time of a Celery task, by task name, queue and outcome.",
    ["task", "queue", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600, float("inf")),
)
FRAMES_INGESTED = Counter("pleura_frames_ingested", "Frames stored by ingest (all sources).")


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class QueueDepthCollector(Collector):
    """Messages waiting in each Celery queue, read from the Redis broker at scrape time (LLEN per queue)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("pleura_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"])
        for queue, depth in queue_depths().items():
            family.add_metric([queue], depth)
        yield family


def queue_names() -> list[str]:
    return sorted(set(settings.CELERY_QUEUE_TIME_LIMITS) | {settings.CELERY_TASK_DEFAULT_QUEUE})


def queue_depths() -> dict[str, int]:
    """{queue: waiting messages}; empty when the broker is not Redis or cannot be reached (logged)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {}
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            with client.pipeline(transaction=False) as pipe:
                names = queue_names()
                for name in names:
                    pipe.llen(name)
                return dict(zip(names, (int(n) for n in pipe.execute()), strict=True))
        finally:
            client.close()
    except Exception:
        logger.warning("metrics: broker unavailable for queue depth", exc_info=True)
        return {}


QUEUE_DEPTH = QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTH)


def scrape_registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's, or all processes' through the multiprocess folder."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QUEUE_DEPTH)
    return registry


def allowed(request: HttpRequest) -> bool:
    token = settings.PLEURA_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    address = request.META.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.PLEURA_METRICS_ALLOWED_IPS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET" or not allowed(request):
        return HttpResponse(status=404)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class RequestMetricsMiddleware:
    """Request latency by route name (never the raw path: bounded label values) and status class."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.route) if match is not None else "unmatched"
        REQUEST_LATENCY.labels(route=route or "unnamed", method=request.method or "",
                               status=status_class(response.status_code)).observe(time.perf_counter() - start)
        return response


def count_ingested_frames(sender: object, video_ids: list[int], **kwargs: object) -> None:
    """Receiver of studies.signals.videos_ingested: add the new videos' frames (one query)."""
    from django.db.models import Sum

    from studies.models import Video

    total = Video.objects.filter(pk__in=video_ids).aggregate(total=Sum("frame_count"))["total"] or 0
    FRAMES_INGESTED.inc(total)
