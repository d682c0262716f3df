"""The DICOM C-STORE receiver (SCP): ultrasound instances from configured calling AE titles only.

Runs as its own process (`manage.py pacs_receiver`). A pushed instance is written to the spool folder
as it came, never into media storage; the ingest task (`INGEST_SPOOLED_TASK`, queued by name) then
de-identifies and imports it and deletes the spool file. Statuses (PS3.4 Annex B.2.3): 0x0000 taken;
0x0122 SOP class not supported (not ultrasound image storage); 0xA900 the dataset does not match its
SOP class (no pixels); 0xA700 out of resources (spool or queue unavailable); 0xC000 cannot understand.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.events import Event

from core.queue import enqueue_task

from .dicomweb import US_SOP_CLASSES

log = logging.getLogger(__name__)

INGEST_SPOOLED_TASK = "pacs.ingest_spooled"
SUCCESS = 0x0000
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
VERIFICATION = "1.2.840.10008.1.1"  # C-ECHO, so a PACS can test the connection


@dataclass(frozen=True)
class ReceiverConfig:
    ae_title: str
    port: int
    spool: Path
    endpoints: dict[str, int]  # calling AE title -> DicomwebEndpoint id (its site and opt-in apply)
    host: str = "0.0.0.0"


Enqueue = Callable[..., object]


def store_handler(config: ReceiverConfig, enqueue: Enqueue = enqueue_task) -> Callable[[Event], int]:
    def handle(event: Event) -> int:
        sop_class = str(event.request.AffectedSOPClassUID)
        if sop_class not in US_SOP_CLASSES:
            return SOP_CLASS_NOT_SUPPORTED
        calling = event.assoc.requestor.ae_title.strip()
        endpoint_id = config.endpoints.get(calling)
        if endpoint_id is None:  # association checks this already; a guard, not the rule
            return CANNOT_UNDERSTAND
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
        except Exception:
            log.exception("C-STORE from %s: the dataset could not be decoded", calling)
            return CANNOT_UNDERSTAND
        if "PixelData" not in dataset or not str(dataset.get("SOPInstanceUID", "")):
            return DATASET_DOES_NOT_MATCH
        path = config.spool / f"{uuid.uuid4().hex}.dcm"
        try:
            config.spool.mkdir(parents=True, exist_ok=True)
            dataset.save_as(path, enforce_file_format=True)
        except OSError:
            log.exception("C-STORE from %s: the spool folder %s is not writable", calling, config.spool)
            return OUT_OF_RESOURCES
        try:
            enqueue(INGEST_SPOOLED_TASK, str(path), endpoint_id=endpoint_id)
        except Exception:
            log.exception("C-STORE from %s: the ingest task could not be queued", calling)
            path.unlink(missing_ok=True)
            return OUT_OF_RESOURCES
        return SUCCESS

    return handle


def receiver_ae(config: ReceiverConfig) -> AE:
    """An AE accepting storage (every storage class is negotiated, so a non-US push gets status 0x0122
    rather than a refused presentation context) and verification, from the configured callers only."""
    ae = AE(ae_title=config.ae_title)
    ae.supported_contexts = StoragePresentationContexts
    ae.add_supported_context(VERIFICATION)
    ae.require_calling_aet = sorted(config.endpoints)  # others: A-ASSOCIATE-RJ, calling AE not recognised
    return ae


def receiver_start(config: ReceiverConfig, *, block: bool, enqueue: Enqueue = enqueue_task):  # type: ignore[no-untyped-def]
    """Serve; with block=False return the server (its `shutdown()` stops it)."""
    if not config.endpoints:
        raise ValueError("no calling AE titles configured: set ae_title on a DICOMweb endpoint")
    handlers: list = [(evt.EVT_C_STORE, store_handler(config, enqueue))]
    return receiver_ae(config).start_server((config.host, config.port), block=block, evt_handlers=handlers)
