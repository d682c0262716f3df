"""A search worker process for tests/ml/test_search.py: joins a study in an RDB storage and runs trials of a
fast synthetic objective (``fast``) or hangs inside its first trial (``hang``, to be killed).

    python tests/ml/search_worker.py STORAGE STUDY TRIALS WORKER fast|hang [MARKER]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ml.search import Param, SearchSettings, run_search

SPACE = (Param("x", "float", 0.0, 1.0), Param("kind", "categorical", choices=("a", "b")))


def evaluate_fast(params, report):
    value = 0.0
    for step in range(3):
        time.sleep(0.05)
        value = 1.0 - (params["x"] - 0.3) ** 2 - (0.1 if params["kind"] == "b" else 0.0)
        report(step, value)
    return {"value": value, "pid": os.getpid()}


def main() -> int:
    storage, study, trials, worker, mode = sys.argv[1:6]
    marker = Path(sys.argv[6]) if len(sys.argv) > 6 else None

    def evaluate_hang(params, report):
        if marker is not None:
            marker.write_text(str(os.getpid()))
        time.sleep(3600)
        return {"value": 0.0}

    settings = SearchSettings(study=study, storage=storage, trials=int(trials), worker=int(worker), heartbeat_s=1,
                              grace_s=2, space=SPACE, pruner_startup_trials=100)
    run_search(settings, evaluate_fast if mode == "fast" else evaluate_hang)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
