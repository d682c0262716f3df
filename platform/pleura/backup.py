"""Backup and restore of a whole site (issue 18, item 6): the database plus the media storage, into one folder.

PostgreSQL: `pg_dump --format=custom` (consistent snapshot while the site runs) and `pg_restore --clean
--if-exists` (into an empty or an older copy of the database). SQLite (the embedded demo): SQLite's online
backup API, a consistent copy of a live file. Media: every file of Django's default storage, read and
written through the storage API, so the same code copies a local folder and an S3 bucket (for a very large
bucket, a bucket-to-bucket `mc mirror` / `aws s3 sync` is faster: deploy/README.md, "Backups").
`manifest.json` lists what was saved (names and sizes), and restore checks the copy against it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import connections

from core.errors import InvalidInput

MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
MEDIA = "media"


def database_settings() -> dict[str, Any]:
    return dict(settings.DATABASES["default"])


def is_postgresql(db: dict[str, Any]) -> bool:
    return "postgresql" in str(db["ENGINE"])


def pg_environment(db: dict[str, Any]) -> dict[str, str]:
    """libpq's variables for pg_dump/pg_restore: the password never appears on a command line."""
    values = {"PGHOST": db.get("HOST"), "PGPORT": db.get("PORT"), "PGUSER": db.get("USER"),
              "PGPASSWORD": db.get("PASSWORD"), "PGDATABASE": db.get("NAME")}
    return {**os.environ, **{key: str(value) for key, value in values.items() if value}}


def sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def walk(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name in the storage (listdir is the one listing call all backends have)."""
    folders, files = storage.listdir(folder)
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from walk(storage, f"{folder}/{sub}" if folder else sub)


def backup(out: Path, storage: Storage = default_storage) -> dict[str, Any]:
    """Write the database and the media into `out` (created; must be empty); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise InvalidInput(f"{out} is not empty")
    db = database_settings()
    if is_postgresql(db):
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(out / PG_DUMP)],
                       env=pg_environment(db), check=True)
        database = {"engine": "postgresql", "file": PG_DUMP}
    else:
        sqlite_copy(Path(db["NAME"]), out / SQLITE_COPY)
        database = {"engine": "sqlite", "file": SQLITE_COPY}
    files = []
    for name in walk(storage):
        target = out / MEDIA / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with storage.open(name, "rb") as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
        files.append({"name": name, "size": target.stat().st_size})
    manifest = {"created": datetime.now(UTC).isoformat(), "database": database, "media": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def restore(source: Path, storage: Storage = default_storage) -> dict[str, Any]:
    """Load a backup() folder into the configured database and storage; files of the same name are replaced."""
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise InvalidInput(f"{source} holds no {MANIFEST}: not a Pleura backup")
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["media"]:
        if (source / MEDIA / entry["name"]).stat().st_size != entry["size"]:
            raise InvalidInput(f"{entry['name']}: size differs from the manifest, backup damaged")
    db = database_settings()
    if (manifest["database"]["engine"] == "postgresql") != is_postgresql(db):
        raise InvalidInput("the backup's database engine differs from the configured one")
    connections.close_all()
    if is_postgresql(db):
        subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error",
                        "--dbname", str(db["NAME"]), str(source / PG_DUMP)], env=pg_environment(db), check=True)
    else:
        sqlite_copy(source / SQLITE_COPY, Path(db["NAME"]))
    for entry in manifest["media"]:
        name = entry["name"]
        if storage.exists(name):
            storage.delete(name)
        with (source / MEDIA / name).open("rb") as copy:
            saved = storage.save(name, File(copy, name=name))
        if saved != name:
            raise InvalidInput(f"{name} was stored as {saved}")
    return manifest
