"""Celery signal handlers of every worker (imported by pleura.celery): job durations, log context, and
optionally the worker's own /metrics port.

PLEURA_WORKER_METRICS_PORT set: the worker's main process serves Prometheus metrics on that port. With the
prefork pool the tasks run in child processes, so set PROMETHEUS_MULTIPROC_DIR too (the port then sums all
children); with `--pool solo`/`threads` the process's own registry is enough.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from celery.signals import setup_logging, task_postrun, task_prerun, worker_init
from prometheus_client import start_http_server

from .logs import LOG_CONTEXT, bind
from .metrics import JOB_DURATION, scrape_registry

STARTED: dict[str, float] = {}
TOKENS: dict[str, Any] = {}


@task_prerun.connect
def job_started(task_id: str, task: Any, **kwargs: Any) -> None:
    STARTED[task_id] = time.perf_counter()
    TOKENS[task_id] = bind(task_id=task_id, task=task.name)


@task_postrun.connect
def job_finished(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = STARTED.pop(task_id, None)
    token = TOKENS.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context (a thread pool): nothing to undo here
            LOG_CONTEXT.reset(token)
    if started is None:
        return
    delivery = getattr(task.request, "delivery_info", None) or {}
    queue = str(delivery.get("routing_key") or "")
    JOB_DURATION.labels(task=task.name, queue=queue, outcome=(state or "UNKNOWN").lower()).observe(
        time.perf_counter() - started)


def metrics_port() -> int | None:
    value = os.environ.get("PLEURA_WORKER_METRICS_PORT", "")
    return int(value) if value else None


@worker_init.connect
def serve_worker_metrics(**kwargs: Any) -> None:
    port = metrics_port()
    if port is not None:
        start_http_server(port, addr=os.environ.get("PLEURA_WORKER_METRICS_ADDR", "0.0.0.0"),
                          registry=scrape_registry())


def keep_django_logging(**kwargs: Any) -> None:
    """A setup_logging receiver: Celery then leaves logging alone and Django's LOGGING (JSON) holds in workers."""


if os.environ.get("PLEURA_LOG_FORMAT") == "json":  # text: Celery's own worker format, as before
    setup_logging.connect(keep_django_logging, weak=False)
