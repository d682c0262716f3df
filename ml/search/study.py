"""Optuna studies over a search space: RDB storage shared by several processes, budgets, pruning, summary.

The study lives in an SQL database (:class:`optuna.storages.RDBStorage`: an SQLite file, or PostgreSQL through
psycopg 3), so several processes (workers) can run trials of one study at once. Each running trial records a
heartbeat; a process killed mid-trial stops beating, and the next process that asks for a trial marks it
``FAIL`` (optionally re-queueing its parameters, ``retries``) and the study goes on.

Budgets: ``trials`` counts finished (complete or pruned) trials of the whole study, across processes (a
process stops once the study holds that many; processes still running a trial finish it, so a study may end
up to one trial per extra process over); ``max_time_s`` stops a process from starting trials after that many
seconds (a running trial finishes). TPE is seeded by ``seed + worker`` so parallel workers do not draw the
same startup trials; the median pruner compares a trial's running CV mean after each fold with the others'.
Each trial records the ``worker`` and ``host`` that ran it (user attributes). Optuna fails a stale trial only
when some process asks for a new one, so whoever closes a study (every process gone) calls
:func:`settle_trials` to fail the trials of processes that died during its last trials.

    study = run_search(SearchSettings(study="probe", storage="sqlite:///var/search.sqlite3"), evaluate)
    summary = summarise(study)
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from .objective import Pruned
from .space import EMBEDDING_SPACE, Param, SpaceError, default_params, space_to_dicts, suggest, validate_space

__all__ = ["Evaluate", "SearchSettings", "TrialCallback", "open_storage", "param_importances", "run_search",
           "settle_trials", "storage_url", "summarise"]

#: ``(params, report) -> {"value": float, ...}``: runs one configuration; ``report(step, value)`` returns True
#: when the trial should stop (then the evaluator raises :class:`ml.search.objective.Pruned`)
Evaluate = Callable[[Mapping[str, Any], Callable[[int, float], bool]], Mapping[str, Any]]
TrialCallback = Callable[[optuna.Study, FrozenTrial], None]
#: exceptions of one configuration that fail its trial without stopping the study
TRIAL_ERRORS = (ValueError, RuntimeError, FloatingPointError)


@dataclass
class SearchSettings:
    """One search (JSON-friendly; the study's user attributes keep ``objective``, ``folds``, ``seed`` and
    the space so a second process joining the study is checked against them). With ``enqueue_default`` and
    the default space, worker 0 of a new study tries the recommended recipe first (its CV value is then the
    baseline every trial is compared with). ``host`` (any text, e.g. ``host:pid``) is recorded on each trial
    with ``worker``, so the process behind a running trial can be told."""

    study: str
    storage: str | None = None
    trials: int = 20
    max_time_s: float | None = None
    objective: str = "kappa"
    folds: int = 5
    seed: int = 0
    worker: int = 0
    heartbeat_s: int = 10
    grace_s: int | None = None
    retries: int = 0
    pruner_startup_trials: int = 5
    enqueue_default: bool = True
    space: Sequence[Param] = EMBEDDING_SPACE
    host: str = ""

    @property
    def stale_after_s(self) -> int:
        """How long a running trial may miss its heartbeat before it counts as dead (the grace period)."""
        return self.grace_s or 3 * self.heartbeat_s

    def __post_init__(self) -> None:
        problems = []
        if not self.study:
            problems.append("a study name is required")
        if self.trials < 1:
            problems.append(f"trials must be >= 1, got {self.trials}")
        if self.max_time_s is not None and not self.max_time_s > 0:
            problems.append(f"max_time_s must be > 0, got {self.max_time_s}")
        if self.heartbeat_s < 1 or (self.grace_s is not None and self.grace_s <= self.heartbeat_s):
            problems.append("heartbeat_s must be >= 1 and grace_s above it")
        if problems:
            raise SpaceError("; ".join(problems))
        validate_space(self.space)


def storage_url(url: str) -> str:
    """An SQLAlchemy URL: ``postgres://`` / ``postgresql://`` (the platform's DATABASE_URL form) get the
    psycopg 3 driver (``postgresql+psycopg://``); other URLs are returned as they are."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def open_storage(url: str, *, heartbeat_s: int = 10, grace_s: int | None = None,
                 retries: int = 0) -> optuna.storages.RDBStorage:
    """The study database with heartbeats: a trial whose process stopped beating for ``grace_s`` (default
    3 heartbeats) is failed by the next process asking for a trial (or :func:`settle_trials`), and re-queued
    up to ``retries`` times."""
    url = storage_url(url)
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; they are what we rely on
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=retries) if retries else None
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat_s,
                                          grace_period=grace_s or 3 * heartbeat_s,
                                          heartbeat_stale_trial_callback=callback)


def _check_attrs(study: optuna.Study, settings: SearchSettings) -> None:
    wanted = {"objective": settings.objective, "folds": settings.folds, "seed": settings.seed,
              "space": json.loads(json.dumps(space_to_dicts(settings.space)))}
    stored = study.user_attrs
    if not stored:
        for key, value in wanted.items():
            study.set_user_attr(key, value)
        return
    differ = [key for key, value in wanted.items() if key in stored and stored[key] != value]
    if differ:
        raise SpaceError(f"study {settings.study!r} exists with another {', '.join(differ)}: "
                         "use a new study name or the same settings")


def run_search(settings: SearchSettings, evaluate: Evaluate, *, on_trial: TrialCallback | None = None,
               storage: optuna.storages.BaseStorage | None = None) -> optuna.Study:
    """Create (or join) the study and run trials until the study's trial budget or this process's wall-time
    budget is spent. Returns the study (its trials are in the storage)."""
    if storage is None and settings.storage:
        storage = open_storage(settings.storage, heartbeat_s=settings.heartbeat_s, grace_s=settings.grace_s,
                               retries=settings.retries)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=settings.study, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=settings.seed + settings.worker, n_startup_trials=5),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=settings.pruner_startup_trials, n_warmup_steps=1),
    )
    _check_attrs(study, settings)
    if settings.enqueue_default and settings.worker == 0 and not study.trials and settings.space is EMBEDDING_SPACE:
        study.enqueue_trial(default_params(), user_attrs={"default": True})

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", settings.worker)
        if settings.host:
            trial.set_user_attr("host", settings.host)
        params = suggest(trial, settings.space)

        def report(step: int, value: float) -> bool:
            trial.report(value, step)
            return trial.should_prune()

        try:
            result = evaluate(params, report)
        except Pruned as exc:
            raise optuna.TrialPruned(str(exc)) from exc
        for key, value in result.items():
            if key != "value":
                trial.set_user_attr(key, value)
        return float(result["value"])

    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    callbacks: list[TrialCallback] = [optuna.study.MaxTrialsCallback(settings.trials, states=finished)]
    if on_trial is not None:
        callbacks.append(on_trial)
    remaining = settings.trials - len(study.get_trials(deepcopy=False, states=finished))
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, timeout=settings.max_time_s, catch=TRIAL_ERRORS,
                       callbacks=callbacks)
    return study


def settle_trials(study: optuna.Study, *, wait_s: float = 0.0, poll_s: float = 1.0) -> int:
    """Fail the study's running trials whose heartbeat stopped (their process died), waiting up to ``wait_s``
    for the others to finish or go stale; returns how many still run. For whoever closes a study once every
    process has left: Optuna fails a stale trial only when a process asks for a new trial, so a process
    killed during the last trials would leave its trial RUNNING for good. A live process keeps beating, so
    its trial is never failed here."""
    deadline = time.monotonic() + wait_s
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.monotonic() >= deadline:
            return len(running)
        time.sleep(max(0.0, min(poll_s, deadline - time.monotonic())))


def param_importances(study: optuna.Study) -> tuple[dict[str, float], str]:
    """``(importances, method)``: Optuna's fANOVA (seeded) over the complete trials, or, where it cannot run
    (few trials, one value per parameter), a fallback: per parameter the absolute Spearman correlation of a
    numeric value with the objective, or the spread of a categorical's per-choice mean; normalised to sum 1."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) >= 2:
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
            if found:
                return {k: float(v) for k, v in found.items()}, "fanova"
        except (RuntimeError, ValueError, IndexError, ZeroDivisionError):
            pass
    raw: dict[str, float] = {}
    for name in sorted({n for t in complete for n in t.params}):
        rows = [(t.params[name], float(t.value)) for t in complete if name in t.params and t.value is not None]
        values = [r[0] for r in rows]
        if len(rows) < 2 or len({repr(v) for v in values}) < 2:
            raw[name] = 0.0
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            x, y = _ranks(np.array(values, dtype=float)), _ranks(np.array([r[1] for r in rows]))
            raw[name] = 0.0 if x.std() == 0 or y.std() == 0 else abs(float(np.corrcoef(x, y)[0, 1]))
        else:
            means = [np.mean([y for v, y in rows if repr(v) == key]) for key in {repr(v) for v in values}]
            raw[name] = float(max(means) - min(means))
    total = sum(raw.values())
    return ({k: (v / total if total > 0 else 0.0) for k, v in sorted(raw.items(), key=lambda kv: -kv[1])},
            "fallback (rank correlation / category spread)")


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def summarise(study: optuna.Study, *, started: float | None = None) -> dict[str, Any]:
    """A JSON summary: every trial (state, value, params, fold reports, seconds), counts by state, the best
    trial and parameter importances."""
    history: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        seconds = ((trial.datetime_complete - trial.datetime_start).total_seconds()
                   if trial.datetime_complete and trial.datetime_start else None)
        history.append({"number": trial.number, "state": trial.state.name, "value": trial.value,
                        "params": trial.params, "intermediate": {str(k): v for k, v in trial.intermediate_values.items()},
                        "seconds": seconds, "default": bool(trial.user_attrs.get("default")),
                        "std": trial.user_attrs.get("std"), "worker": trial.user_attrs.get("worker")})
    counts: dict[str, int] = {}
    for row in history:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    importances, method = param_importances(study)
    summary: dict[str, Any] = {"study": study.study_name, "direction": "maximize",
                               "objective": study.user_attrs.get("objective"), "counts": counts, "history": history, "importances": importances,
                               "importance_method": method}
    if complete:
        best = study.best_trial
        summary["best"] = {"number": best.number, "value": best.value, "params": best.params,
                           "config": best.user_attrs.get("config"), "aggregator": best.user_attrs.get("aggregator")}
    if started is not None:
        summary["wall_s"] = round(time.monotonic() - started, 1)
    return summary
