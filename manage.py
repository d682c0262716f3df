#!/usr/bin/env python
"""Django's command-line utility for Pleura."""

import os
import sys
from pathlib import Path

# platform/ holds the project and apps; it is appended, not prepended, and is never a package.
sys.path.append(str(Path(__file__).resolve().parent / "platform"))


def main() -> None:
    from pleura.paths import add_platform_to_path

    add_platform_to_path()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pleura.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
