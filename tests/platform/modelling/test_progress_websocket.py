"""Job progress reaches the browser over the websocket: through Redis, or by polling in the demo."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from accounts.models import Role
from accounts.services import user_ensure
from modelling.models import JobStatus, ModelKind, TrainingJob
from modelling.services import training_job_progress
from pleura.routing import websocket_urlpatterns

# serialized_rollback: like every transactional test here, restore the seeded rows (see tests/conftest.py).
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.integration]


def communicator_for(job: TrainingJob, user) -> WebsocketCommunicator:
    """The routed consumer with an authenticated user in scope (the session middleware is Django's own)."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/jobs/{job.pk}/")
    communicator.scope["user"] = user
    return communicator


async def receive_job(communicator: WebsocketCommunicator) -> dict:
    return (await communicator.receive_json_from(timeout=5))["job"]


def test_progress_from_a_worker_arrives_through_redis():
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING)

    async def scenario() -> list[dict]:
        communicator = communicator_for(job, admin)
        connected, _ = await communicator.connect()
        assert connected
        first = await receive_job(communicator)
        from channels.db import database_sync_to_async

        await database_sync_to_async(training_job_progress)(job=job, progress={"epoch": 1, "loss": 0.5})
        second = await receive_job(communicator)
        await communicator.disconnect()
        return [first, second]

    first, second = async_to_sync(scenario)()
    assert first["status"] == "running" and second["progress"] == {"epoch": 1, "loss": 0.5}


@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}})
def test_without_redis_the_consumer_polls_the_database():
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING)

    async def scenario() -> dict:
        communicator = communicator_for(job, admin)
        assert (await communicator.connect())[0]
        await receive_job(communicator)
        from channels.db import database_sync_to_async

        # another process writes the row; nothing is published on an in-memory layer it shares
        await database_sync_to_async(TrainingJob.objects.filter(pk=job.pk).update)(
            progress={"epoch": 3}, status=JobStatus.SUCCEEDED)
        update = await receive_job(communicator)
        await communicator.disconnect()
        return update

    update = async_to_sync(scenario)()
    channel_layers.backends.clear()
    assert update["progress"] == {"epoch": 3} and update["status"] == "succeeded"


def test_non_admins_are_refused():
    annotator = user_ensure(username="ann", role=Role.ANNOTATOR, validation_level=1)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER)

    async def scenario() -> bool:
        connected, _ = await communicator_for(job, annotator).connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_the_asgi_application_routes_websockets_and_refuses_anonymous_users():
    from pleura.asgi import application

    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER)

    async def scenario() -> bool:
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/", headers=[(b"host", b"127.0.0.1")])
        connected, _ = await communicator.connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_a_job_taken_by_a_worker_is_published_as_running_with_its_queue_gone():
    """The row is the one state: the start is pushed at once (not at the first progress), and a queued
    job's state says where it waits."""
    from modelling.services import training_job_start

    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    ahead = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.RUNNING)
    job = TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.QUEUED)

    async def scenario() -> list[dict]:
        from channels.db import database_sync_to_async

        communicator = communicator_for(job, admin)
        connected, _ = await communicator.connect()
        assert connected
        first = await receive_job(communicator)
        await database_sync_to_async(training_job_start)(job_id=job.pk, task_id="t", worker_host="w", device="cpu")
        second = await receive_job(communicator)
        await communicator.disconnect()
        return [first, second]

    first, second = async_to_sync(scenario)()
    assert first["status"] == "queued" and first["queue"] == {"queue": "training", "position": 1,
                                                              "waiting_for": ahead.pk, "running": [ahead.pk]}
    assert second["status"] == "running" and second["queue"] is None and second["job_type"] == "training"
