"""Layout rules whose breakage is silent: shadowed apps and a `platform` package."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps

REPO = Path(__file__).resolve().parents[2]


def test_platform_is_not_a_package():
    """A platform/__init__.py would shadow the standard library's `platform` module."""
    assert not (REPO / "platform" / "__init__.py").exists()


def test_no_script_folder_shadows_an_app():
    """Running `python bench/x.py` puts bench/ first on sys.path: a bench/agreement.py once replaced
    the `agreement` app, and migrate silently skipped its tables."""
    taken = {config.name.split(".")[0] for config in apps.get_app_configs()} | {"ml", "pleura", "api"}
    for folder in ("bench", "deploy", "tests"):
        clashes = {p.stem for p in (REPO / folder).glob("*.py")} & taken
        assert not clashes, f"{folder}/ has modules named like apps: {sorted(clashes)}"
