"""Debian's Orthanc (with its DICOMweb plugin) as a throw-away PACS: a subprocess on free loopback ports
with its own JSON configuration and storage folder (never the system service). Shared by the PACS tests
and bench/pacs_import.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def orthanc_available() -> bool:
    return Path(ORTHANC).is_file() and DICOMWEB_PLUGIN.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Orthanc:
    http_port: int
    dicom_port: int
    ae_title: str
    process: subprocess.Popen
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def upload(self, data: bytes) -> dict:
        answer = requests.post(f"{self.url}/instances", data=data, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def log(self) -> str:
        path = self.folder / "orthanc.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def orthanc_config(folder: Path, *, http_port: int, dicom_port: int, ae_title: str,
                   modalities: dict[str, list] | None = None) -> Path:
    config = {
        "Name": "pleura-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": http_port, "DicomPort": dicom_port, "DicomAet": ae_title, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "SslEnabled": False, "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "StudiesMetadata": "Full",
                     "SeriesMetadata": "Full"},
        "DicomModalities": modalities or {}, "HttpServerEnabled": True, "StableAge": 1,
        "ConcurrentJobs": 1, "HttpThreadsCount": 8, "DicomAlwaysAllowStore": True,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=1))
    return path


@contextlib.contextmanager
def orthanc_running(folder: Path, *, ae_title: str = "ORTHANC", timeout_s: float = 30) -> Iterator[Orthanc]:
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = orthanc_config(folder, http_port=http_port, dicom_port=dicom_port, ae_title=ae_title)
    log = (folder / "orthanc.log").open("w")
    process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Orthanc(http_port, dicom_port, ae_title, process, folder)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{server.url}/dicom-web/studies", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not start:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()
