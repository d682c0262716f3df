"""Fixtures of the PACS tests: a throw-away Orthanc, an admin, a site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.platform.pacs.orthanc import Orthanc, orthanc_available, orthanc_running


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    if not orthanc_available():
        pytest.skip("Debian's orthanc and orthanc-dicomweb are not installed")
    with orthanc_running(tmp_path / "orthanc") as server:
        yield server


@pytest.fixture
def admin_client(db: None) -> APIClient:
    from accounts.models import Role
    from accounts.services import user_ensure

    client = APIClient()
    client.force_authenticate(user_ensure(username="pacs-admin", role=Role.ADMIN, validation_level=3))
    return client
