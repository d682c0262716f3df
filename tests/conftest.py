"""Shared fixtures: every test gets its own media folder, so no test sees another's files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_DATA = REPO_ROOT.parent / "shared" / "data" / "covid-blues-dev"


@pytest.fixture(autouse=True)
def media_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """Point Django's default storage at a fresh folder (only for tests that use Django)."""
    if not request.config.pluginmanager.has_plugin("django"):
        return None
    settings = request.getfixturevalue("settings")
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    return media


@pytest.fixture
def dev_data() -> Path:
    if not (DEV_DATA / "lus_videos").is_dir():
        pytest.skip(f"COVID-BLUeS dev data not found at {DEV_DATA}")
    return DEV_DATA
