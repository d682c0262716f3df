"""Backup, restore and the upgrade path (issue 18, item 6) on a throwaway PostgreSQL database of this test's own:
`migrate --check` reports the pending migrations before and none after; backup, drop, restore gives back the
rows and the media files. Only the database created here is touched, and it is dropped at the end."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pleura.backup import sqlite_copy

REPO = Path(__file__).resolve().parents[2]
SERVER = "postgres://postgres@127.0.0.1:5432"
SEED = ("from studies.services import site_ensure; site_ensure(name='Ward A'); site_ensure(name='Ward B'); "
        "from django.core.files.base import ContentFile; from django.core.files.storage import default_storage; "
        "default_storage.save('frames/1/0.png', ContentFile(b'frame-bytes'))")


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(sql)


@pytest.fixture
def database() -> Iterator[str]:
    name = f"pleura_backup_test_{secrets.token_hex(4)}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(args: list[str], database: str, media: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pleura.settings.test", "DATABASE_URL": f"{SERVER}/{database}",
           "PLEURA_MEDIA_ROOT": str(media)}
    env.pop("PLEURA_MEDIA_STORAGE", None)
    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=check)


def site_names(database: str) -> list[str]:
    with psycopg.connect(f"{SERVER}/{database}") as connection:
        return [row[0] for row in connection.execute("SELECT name FROM studies_site ORDER BY name")]


def test_migrate_check_then_backup_drop_restore(database: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    pending = manage(["migrate", "--check", "--plan"], database, media, check=False)
    assert pending.returncode == 1 and "studies" in pending.stdout  # the upgrade step has work to do
    manage(["migrate", "--no-input"], database, media)
    assert manage(["migrate", "--check"], database, media, check=False).returncode == 0  # and ran once
    manage(["shell", "-c", SEED], database, media)
    assert site_names(database) == ["Ward A", "Ward B"]

    out = tmp_path / "backup"
    manage(["backup", "--out", str(out)], database, media)
    assert (out / "database.dump").stat().st_size > 0 and (out / "media/frames/1/0.png").read_bytes() == b"frame-bytes"
    assert manage(["backup", "--out", str(out)], database, media, check=False).returncode != 0  # never overwrites

    admin(f'DROP DATABASE "{database}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{database}"')  # empty, as on a new server
    (media / "frames/1/0.png").unlink()
    restored = manage(["restore", "--from", str(out)], database, media)
    assert "1 media files" in restored.stdout
    assert site_names(database) == ["Ward A", "Ward B"]
    assert (media / "frames/1/0.png").read_bytes() == b"frame-bytes"
    assert manage(["migrate", "--check"], database, media, check=False).returncode == 0
    # restoring over the live copy (--clean) works too
    manage(["restore", "--from", str(out)], database, media)
    assert site_names(database) == ["Ward A", "Ward B"]


def test_sqlite_copy_is_consistent(tmp_path: Path) -> None:
    source, target = tmp_path / "live.sqlite3", tmp_path / "copy.sqlite3"
    with sqlite3.connect(source) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
        connection.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(100)])
    sqlite_copy(source, target)
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*), sum(x) FROM t").fetchone() == (100, 4950)
