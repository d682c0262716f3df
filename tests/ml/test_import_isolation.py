"""The ML core never imports Django (it must run in plain PyTorch environments and GPU workers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULES = [
    "ml",
    "ml.models",
    "ml.losses",
    "ml.aggregation",
    "ml.metrics",
    "ml.data",
    "ml.utils",
    "ml.checkpoint",
    "ml.geometry",
    "ml.phantom",
    "ml.tracks",
    "ml.training",
    "ml.inference",
    "ml.train",
    "ml.predict",
    "ml.evaluate",
    "ml.manifest",
    "ml.search",
    "ml.active",
]


def test_ml_imports_leave_django_out():
    code = (
        "import sys\n"
        f"import {', '.join(MODULES)}\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
