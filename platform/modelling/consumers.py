"""Websocket `/ws/jobs/<id>/`: the job's state now, then every change (admins only)."""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from accounts.models import Role

from .models import JobStatus, TrainingJob
from .progress import job_group, job_state

POLL_INTERVAL_S = 1.0
FINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


@database_sync_to_async
def _state(job_id: int) -> dict | None:
    job = TrainingJob.objects.filter(pk=job_id).first()
    return job_state(job) if job is not None else None


class JobProgressConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not (user.is_superuser or user.role == Role.ADMIN):
            await self.close(code=4403)
            return
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        state = await _state(self.job_id)
        if state is None:
            await self.close(code=4404)
            return
        self.group = job_group(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send(state)
        self.poller = None
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            # Workers are other processes: an in-memory layer never hears them, so watch the database.
            self.poller = asyncio.ensure_future(self._poll(state))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        poller = getattr(self, "poller", None)  # unset when the connection was refused
        if poller:
            poller.cancel()

    async def job_update(self, event: dict) -> None:
        await self._send(event["job"])

    async def _send(self, state: dict) -> None:
        await self.send(text_data=json.dumps({"type": "job", "job": state}))

    async def _poll(self, last: dict) -> None:
        while last["status"] not in FINAL:
            await asyncio.sleep(POLL_INTERVAL_S)
            state = await _state(self.job_id)
            if state is None:
                return
            if state != last:
                await self._send(state)
                last = state
