"""ml.search.study.settle_trials: whoever closes a study fails the trial of a process killed during it (Optuna
alone fails a stale trial only when a process asks for a new one), and leaves a live process's trial alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ml.search.study import open_storage, settle_trials

WORKER = Path(__file__).with_name("search_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def hanging_worker(storage: str, marker: Path) -> subprocess.Popen:
    """A process of the study ``s`` (heartbeat 1 s, grace 2 s) inside its first trial once ``marker`` exists."""
    proc = subprocess.Popen([sys.executable, str(WORKER), storage, "s", "2", "0", "hang", str(marker)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the worker never started its trial"
        time.sleep(0.1)
    return proc


def test_settling_fails_a_dead_process_trial_and_keeps_a_live_one(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    dead = hanging_worker(storage, tmp_path / "dead")
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    live = hanging_worker(storage, tmp_path / "live")
    try:
        study = optuna.load_study(study_name="s", storage=open_storage(storage, heartbeat_s=1, grace_s=2))
        started = time.monotonic()
        assert settle_trials(study, wait_s=4, poll_s=0.2) == 1  # the live trial still runs
        assert time.monotonic() - started >= 3.5  # it waited for the live one
        states = [t.state for t in study.get_trials(deepcopy=False)]
        assert states == [TrialState.FAIL, TrialState.RUNNING]
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=30)
