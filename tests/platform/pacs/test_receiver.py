"""The C-STORE receiver as its own process (`manage.py pacs_receiver`), driven by pynetdicom's SCU."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from pynetdicom import AE

from pacs.models import DicomwebEndpoint, ImportedInstance
from pacs.receiver import INGEST_SPOOLED_TASK
from pacs.tasks import ingest_spooled
from studies.ingest.pseudonyms import pseudonymous_code
from studies.models import Site, Video
from tests.platform.pacs.dicom_files import CT_IMAGE, US_MULTIFRAME, ct_image, us_multiframe
from tests.platform.pacs.orthanc import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
CALLER = "LUSCANNER"


@contextlib.contextmanager
def receiver(spool: Path, log: Path) -> Iterator[int]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="pleura.settings.test", PYTHONUNBUFFERED="1",
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "manage.py", "pacs_receiver", "--port", str(port), "--ae-title",
                                    "PLEURA", "--host", "127.0.0.1", "--spool", str(spool)], cwd=REPO, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the receiver did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield port
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)


def _queued(broker: redis.Redis) -> list[tuple[str, list]]:
    tasks = []
    for raw in broker.lrange("ingest", 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def test_cstore_accepts_us_from_configured_callers_only(django_db_serialized_rollback: None, transactional_db: None,
                                                        tmp_path: Path) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    site = Site.objects.create(name="General")
    endpoint = DicomwebEndpoint.objects.create(site=site, name="scanner", qido_url="http://127.0.0.1:9/dicom-web",
                                               ae_title=CALLER)
    spool = tmp_path / "spool"
    with receiver(spool, tmp_path / "receiver.log") as port:
        stranger = AE(ae_title="STRANGER")
        stranger.add_requested_context(US_MULTIFRAME)
        refused = stranger.associate("127.0.0.1", port, ae_title="PLEURA")
        assert refused.is_rejected  # calling AE title not recognised: rejected at association

        scanner = AE(ae_title=CALLER)
        scanner.add_requested_context(US_MULTIFRAME)
        scanner.add_requested_context(CT_IMAGE)
        assoc = scanner.associate("127.0.0.1", port, ae_title="PLEURA")
        assert assoc.is_established
        try:
            taken = assoc.send_c_store(us_multiframe(patient_id="MRN-9"))
            not_us = assoc.send_c_store(ct_image())
        finally:
            assoc.release()
    assert taken.Status == 0x0000
    assert not_us.Status == 0x0122  # SOP class not supported
    spooled = list(spool.iterdir())
    assert len(spooled) == 1
    queued = _queued(broker)
    assert queued == [(INGEST_SPOOLED_TASK, [[str(spooled[0])], {"endpoint_id": endpoint.pk}, queued[0][1][2]])]
    broker.flushdb()

    video_id = ingest_spooled(str(spooled[0]), endpoint_id=endpoint.pk)  # what the ingest worker runs
    video = Video.objects.get(pk=video_id)
    assert video.frame_count == 20
    assert video.exam.patient.code == pseudonymous_code("MRN-9", key=settings.PLEURA_PSEUDONYM_KEY)
    assert ImportedInstance.objects.get().via == "cstore"
    assert not spooled[0].exists()
