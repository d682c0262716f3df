"""Fixtures for platform tests: small videos of every container, a site and a patient."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from accounts.models import Role
from accounts.services import user_ensure
from studies.models import Patient, Site
from studies.services import patient_upsert, site_ensure


def synthetic_frames(n: int = 6, height: int = 48, width: int = 64, colour: bool = False) -> list[np.ndarray]:
    """Frames with a moving bright line; grey unless `colour` (then the channels differ)."""
    frames = []
    for index in range(n):
        frame = np.full((height, width, 3), 30, dtype=np.uint8)
        frame[(index * 5) % height, :, :] = 230
        if colour:
            frame[..., 2] = 200
        frames.append(frame)
    return frames


def write_container(path: Path, frames: list[np.ndarray], fourcc: str, fps: float = 25.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def media_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def site(db: None) -> Site:
    return site_ensure(name="Test Hospital")


@pytest.fixture
def patient(site: Site) -> Patient:
    return patient_upsert(site=site, code="P-001", covid_status="positive")


@pytest.fixture
def annotator(db: None):  # type: ignore[no-untyped-def]
    return user_ensure(username="ann", role=Role.ANNOTATOR, validation_level=1, password="pw-ann-123")
