"""Queueing Celery tasks by name, so no app imports the module that defines a task (ml.tasks above all).

The queue a task runs on follows from its name's family (CELERY_TASK_ROUTES: `ml.*` on gpu, and so on).
Services call this inside `transaction.on_commit`, so a worker never sees uncommitted rows."""

from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue_task(name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> str:
    """Send the task `name` with these arguments; returns its task id. Fails loudly when the broker is down."""
    return current_app.send_task(name, args=args, kwargs=kwargs, countdown=countdown).id


def task_revoke(task_id: str) -> None:
    """Tell workers to drop a queued task (a running one stops through its own cancel checks)."""
    current_app.control.revoke(task_id)
