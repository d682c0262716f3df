"""Put `platform/` on sys.path: the Django project and apps live there, and the folder itself must
never be a package (it would shadow the standard library's `platform` module)."""

from __future__ import annotations

import sys
from pathlib import Path

PLATFORM_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PLATFORM_DIR.parent


def add_platform_to_path() -> None:
    """Append (never prepend) the platform and repository folders so the stdlib stays first."""
    for folder in (str(PLATFORM_DIR), str(REPO_ROOT)):
        if folder not in sys.path:
            sys.path.append(folder)
