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


@pytest.fixture(scope="session")
def serialized_db(django_db_setup: None) -> dict[str, str]:
    """The seeded rows (scales, marker classes) as Django serialized them at setup. Read early: once
    Playwright's event loop runs, code sees other connection objects, which lack the snapshot."""
    from django.db import connections

    return {alias: connections[alias]._test_serialized_contents for alias in connections
            if hasattr(connections[alias], "_test_serialized_contents")}


@pytest.fixture(autouse=True)
def _transactional_tests_restore_seed_data(request: pytest.FixtureRequest) -> None:
    """Every transactional test restores the migration-seeded rows (scales, marker classes) afterwards.

    A plain transactional test's flush re-creates content types through post_migrate; a later test with
    serialized rollback then loads its snapshot on top of them and fails on duplicates. With every
    transactional test serialized (and its connection holding the snapshot), results do not depend on
    the order tests run in.
    """
    if "transactional_db" not in request.fixturenames:
        return
    from django.db import connections

    for alias, contents in request.getfixturevalue("serialized_db").items():
        connections[alias]._test_serialized_contents = contents
    request.getfixturevalue("django_db_serialized_rollback")
