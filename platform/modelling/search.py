"""Hyper-parameter search jobs: an Optuna study (ml.search) over a model kind's config space, run as an
ordinary job (job_type ``search``) by one or more workers that share the study.

The study lives in Pleura's own database through Optuna's RDB storage (its tables beside Django's: PostgreSQL
in production, the SQLite file in the demo), so ``workers=N`` queues N tasks that each run trials until the
study's trial budget or the job's wall-time budget is spent; a worker killed mid-trial stops its heartbeat and
that trial is failed by the next worker asking for one (its task is re-delivered and rejoins the study). Every
finished trial updates the job's progress (trial n/N, best value); each worker leaving writes the summary
(history, best parameters, importances) into the progress, or, when it failed outside a trial (the data, the
storage), its error (``workers_failed``). Either way it is out, and the last one out closes the job, once:
succeeded when a trial completed, failed otherwise. The best trial is trained on all data by an ordinary
training job (:func:`search_train_best`).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict
from core.media_cache import media_session
from core.queue import enqueue_task
from ml.metrics import to_strict_json
from ml.search import EMBEDDING_SPACE, OBJECTIVES, SearchSettings, SpaceError, run_search, summarise
from ml.search.space import embedding_fields, space_from_dicts, space_to_dicts, validate_space
from ml.search.study import settle_trials

from .models import JobStatus, JobType, ModelKind, TrainingJob
from .progress import publish_job
from .scoring import embedding_bags, torch_device
from .selection import DataSelection
from .selectors import job_is_cancelled, video_consensus_findings, video_consensus_labels, video_patients
from .services import (
    LOG_TAIL_CHARS,
    MAX_ATTEMPTS,
    MIN_EMBEDDING_PATIENTS,
    JobSubmissionError,
    training_job_finish,
    training_job_start,
    training_job_submit,
    training_job_validate,
)

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)
#: One worker's share of a search job (the gpu queue: ``ml.*``); queued once per worker.
SEARCH_TRIALS_TASK = "ml.search_trials"
SEARCH_KINDS = (ModelKind.EMBEDDING,)
MAX_SEARCH_TRIALS = 500
MAX_SEARCH_WORKERS = 8
MAX_SEARCH_WALL_S = 7 * 24 * 3600
MAX_SEARCH_FOLDS = 10
#: parameters of a search job beyond the base training configuration
SEARCH_OPTIONS = ("objective", "trials", "max_time_s", "workers", "folds", "seed", "space")
#: a failed worker's error as the progress keeps it (``workers_failed``); the log keeps the traceback
WORKER_ERROR_CHARS = 500
#: the live history a running search keeps in its progress ("trials"): at most this many, the newest
LIVE_TRIALS = MAX_SEARCH_TRIALS


def search_storage_url() -> str:
    """The SQLAlchemy URL of the database this process uses (the test database under tests): Optuna's
    tables live beside Pleura's."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if "postgresql" not in db["ENGINE"]:
        raise JobSubmissionError(f"a search needs PostgreSQL or SQLite, not {db['ENGINE']}")
    auth = quote(str(db.get("USER") or ""), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    host = f"{db.get('HOST') or 'localhost'}" + (f":{db['PORT']}" if db.get("PORT") else "")
    return f"postgresql+psycopg://{auth + '@' if auth else ''}{host}/{quote(str(db['NAME']), safe='')}"


def search_study_name(job: TrainingJob) -> str:
    """Unique per job (its creation time too: a reused id in a recreated database never joins an old study)."""
    return f"pleura-job-{job.pk}-{job.created_at:%Y%m%d%H%M%S%f}"


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JobSubmissionError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def search_job_validate(*, kind: str, objective: str = "kappa", trials: int = 20, max_time_s: float | None = None,
                        workers: int = 1, folds: int = 5, seed: int = 0, space: list[dict] | None = None,
                        parameters: dict[str, Any] | None = None,
                        data_selection: dict[str, Any] | None = None) -> tuple[dict[str, Any], DataSelection]:
    """Everything a search checks before it is queued: ``(job parameters, selection)``.

    Raises:
        JobSubmissionError: unknown kind or objective, budgets out of range, an empty space, bad bounds,
            unknown parameter names, or labels a patient-level CV cannot run on.
    """
    if kind not in SEARCH_KINDS:
        raise JobSubmissionError(f"a search runs on the {', '.join(SEARCH_KINDS)} kind, not {kind!r}")
    if objective not in OBJECTIVES:
        raise JobSubmissionError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    trials = _whole("trials", trials, 1, MAX_SEARCH_TRIALS)
    workers = _whole("workers", workers, 1, MAX_SEARCH_WORKERS)
    folds = _whole("folds", folds, 2, MAX_SEARCH_FOLDS)
    seed = _whole("seed", seed, 0, 2**31 - 1)
    if max_time_s is not None and (isinstance(max_time_s, bool) or not isinstance(max_time_s, int | float)
                                   or not 0 < max_time_s <= MAX_SEARCH_WALL_S):
        raise JobSubmissionError(f"max_time_s must be above 0 and at most {MAX_SEARCH_WALL_S}, got {max_time_s!r}")
    space_dicts = None
    if space is not None:
        if not isinstance(space, list):
            raise JobSubmissionError("space must be a list of parameters")
        try:
            params = space_from_dicts(space)
            validate_space(params, known=embedding_fields())
        except SpaceError as error:
            raise JobSubmissionError(str(error)) from error
        except (TypeError, ValueError) as error:  # values of the wrong type (a string bound, a scalar condition)
            raise JobSubmissionError(f"the search space is malformed: {error}") from error
        space_dicts = space_to_dicts(params)
    base, selection = training_job_validate(kind=kind, parameters=parameters, data_selection=data_selection)
    patients = len(set(video_patients(list(video_consensus_labels(selection))).values()))
    if patients < max(folds, 4) or patients - -(-patients // folds) < MIN_EMBEDDING_PATIENTS:
        raise JobSubmissionError(f"no eligible labels for a {folds}-fold search: the labelled videos come from "
                                 f"{patients} patient(s); each fold's training needs {MIN_EMBEDDING_PATIENTS} "
                                 f"and every fold a test patient")
    return ({"objective": objective, "trials": trials, "max_time_s": max_time_s, "workers": workers,
             "folds": folds, "seed": seed, "space": space_dicts, "base": base}, selection)


def search_enqueue(job_id: int, worker: int) -> str:
    return enqueue_task(SEARCH_TRIALS_TASK, job_id, worker)


@transaction.atomic
def search_job_submit(*, kind: str, created_by: User | None = None,
                      enqueue: Callable[[int, int], object] | None = None, **options: Any) -> TrainingJob:
    """Validate and queue a search job: one task per worker, all on the same study."""
    parameters, selection = search_job_validate(kind=kind, **options)
    job = TrainingJob.objects.create(
        job_type=JobType.SEARCH, kind=kind, parameters=parameters, data_selection=selection.to_dict(),
        created_by=created_by, status=JobStatus.QUEUED,
        progress={"phase": "queued", "step": 0, "steps": parameters["trials"], "workers_done": []})
    send = enqueue or search_enqueue

    def queue_all() -> None:
        for worker in range(parameters["workers"]):
            send(job.pk, worker)

    transaction.on_commit(queue_all)
    return job


def search_progress_merge(job_id: int, updates: dict[str, Any], *, worker_done: int | None = None,
                          worker_trial: int | None = None, trials: Sequence[dict] | None = None,
                          worker_failed: tuple[int, str, str] | None = None) -> TrainingJob:
    """Merge into the job's progress under a row lock (several workers write it), and publish it;
    ``worker_trial``: count a finished trial of that worker (``trials_by_worker``); ``trials``: rows of
    :func:`search_trial_row` joined, by trial number, to the live history (``progress["trials"]``);
    ``worker_done`` / ``worker_failed`` (worker, error, traceback): that worker is out (:func:`search_workers_out`),
    a failed one's error kept in ``workers_failed`` and its traceback in the log."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_id)
        progress = {**(job.progress or {}), **to_strict_json(updates)}
        if trials:
            rows = {row["number"]: row for row in progress.get("trials") or []}
            rows.update((row["number"], row) for row in to_strict_json(list(trials)))
            progress["trials"] = [rows[number] for number in sorted(rows)][-LIVE_TRIALS:]
        if worker_trial is not None:
            counts = dict(progress.get("trials_by_worker") or {})
            counts[str(worker_trial)] = counts.get(str(worker_trial), 0) + 1
            progress["trials_by_worker"] = counts
        if worker_done is not None:
            progress["workers_done"] = sorted(set(progress.get("workers_done") or []) | {worker_done})
        fields = ["progress"]
        if worker_failed is not None:
            worker, error, trace = worker_failed
            progress["workers_failed"] = {**(progress.get("workers_failed") or {}),
                                          str(worker): error[:WORKER_ERROR_CHARS]}
            job.log_tail = (job.log_tail + f"worker {worker} failed: {trace or error}".rstrip() + "\n"
                            )[-LOG_TAIL_CHARS:]
            fields.append("log_tail")
        job.progress = progress
        job.save(update_fields=fields)
    publish_job(job)
    return job


def search_workers_out(job: TrainingJob) -> bool:
    """Whether every worker of the job has left it, done or failed."""
    progress = job.progress or {}
    out = {int(w) for w in progress.get("workers_done") or []} | {int(w) for w in progress.get("workers_failed") or {}}
    return len(out) >= int(job.parameters["workers"])


def search_job_close(job_id: int, *, summary: dict[str, Any] | None = None) -> TrainingJob:
    """The final status of a search job whose workers are all out, set under its row lock so it is set once
    (a job closed by another worker, or cancelled, is left as it is): succeeded when a trial completed (a
    failed worker stays in ``workers_failed`` and the log), failed with the workers' errors when none did.
    ``summary``: the study as the closing worker leaves it (else the last one stored stands)."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING or not search_workers_out(job):
            return job
        progress = dict(job.progress or {})
        if summary is not None:
            progress["summary"] = to_strict_json(summary)
            job.progress = progress
            job.save(update_fields=["progress"])
        stored = progress.get("summary") or {}
        if "best" in stored or progress.get("best_value") is not None:
            return training_job_finish(job=job, status=JobStatus.SUCCEEDED)
        failed = progress.get("workers_failed") or {}
        why = "; ".join(f"worker {w}: {error}" for w, error in sorted(failed.items())) or "see the log of the workers"
        return training_job_finish(job=job, status=JobStatus.FAILED,
                                   error=f"no trial completed: {stored.get('counts', {})} ({why})")


def _space(parameters: dict[str, Any]) -> Sequence[Any]:
    return EMBEDDING_SPACE if parameters.get("space") is None else space_from_dicts(parameters["space"])


def search_trial_row(trial: Any) -> dict[str, Any]:
    """A finished trial (an Optuna FrozenTrial) as the live history keeps it: summarise()'s row less the fold
    reports, so a running search's charts can be drawn from its progress alone."""
    seconds = ((trial.datetime_complete - trial.datetime_start).total_seconds()
               if trial.datetime_complete and trial.datetime_start else None)
    return {"number": trial.number, "state": trial.state.name, "value": trial.value, "params": trial.params,
            "seconds": None if seconds is None else round(seconds, 1)}


def _trial_callback(job: TrainingJob, trials: int, worker: int) -> Callable[[optuna.Study, Any], None]:
    from optuna.trial import TrialState

    def on_trial(study: optuna.Study, trial: Any) -> None:
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        complete = [t for t in finished if t.state == TrialState.COMPLETE and t.value is not None]
        best = max(complete, key=lambda t: float(t.value or 0.0)) if complete else None
        search_progress_merge(job.pk, {
            "phase": "search", "step": min(len(finished), trials), "steps": trials,
            "best_value": best.value if best else None, "best_trial": best.number if best else None,
            "last_trial": {"number": trial.number, "state": trial.state.name, "value": trial.value,
                           "worker": worker}}, worker_trial=worker, trials=[search_trial_row(t) for t in finished])
        if job_is_cancelled(job.pk):
            study.stop()

    return on_trial


def search_job_run(*, job_id: int, worker: int, task_id: str, worker_host: str) -> str:
    """One worker's share of a search job: trials until the budget is spent, then it leaves the job. A worker
    failing outside a trial (the data, the storage) leaves too, its error recorded, while the others go on;
    the last worker out closes the job (:func:`search_job_close`). Returns the job's final status when this
    worker closed it (succeeded, failed), cancelled, skipped (finished meanwhile), or ``worker done`` /
    ``worker failed`` while others still run."""
    job = training_job_start(job_id=job_id, task_id=task_id, worker_host=worker_host, device=torch_device())
    if job is None:
        return "skipped"
    study: optuna.Study | None = None
    summary: dict[str, Any] | None = None
    failure: tuple[int, str, str] | None = None  # (worker, error, traceback)
    storages: list[optuna.storages.BaseStorage] = []  # closed when this worker leaves (a worker runs many tasks)
    try:
        if job.attempts > MAX_ATTEMPTS * job.parameters["workers"]:
            failure = (worker, f"gave up after {job.attempts - 1} starts", "")
        else:
            try:
                study = _run_trials(job, worker, worker_host, storages)
                summary = summarise(study)
            except Exception as error:
                logger.exception("search job %s (worker %s) failed", job_id, worker)
                short = str(error) if isinstance(error, SpaceError) else f"{type(error).__name__}: {error}"
                failure = (worker, short, "" if isinstance(error, SpaceError) else traceback.format_exc())
        job = search_progress_merge(job.pk, {"phase": "search", **({"summary": summary} if summary else {})},
                                    worker_done=worker if failure is None else None, worker_failed=failure)
        if job.status == JobStatus.CANCELLED:
            return "cancelled"
        if job.status != JobStatus.RUNNING or not search_workers_out(job):
            return "worker done" if failure is None else "worker failed"
        return search_job_close(job.pk, summary=_closing_summary(job, worker, worker_host, study)).status
    finally:
        for storage in storages:
            _close_storage(storage)


def _closing_summary(job: TrainingJob, worker: int, host: str, study: optuna.Study | None) -> dict[str, Any] | None:
    """The study as the last worker out leaves it: the trials of processes that died meanwhile failed (after
    their grace period; a live process's trial is waited for that long), then summarised. None when the
    study cannot be read (a failed worker's storage): the summary stored last stands."""
    from optuna import load_study

    options = _search_settings(job, worker, host)
    opened = None
    try:
        if study is None:
            opened = _open_storage(options, attempts=1)
            study = load_study(study_name=options.study, storage=opened)
        settle_trials(study, wait_s=options.stale_after_s + options.heartbeat_s)
        return summarise(study)
    except Exception:
        logger.warning("search job %s: could not read its study to close it", job.pk, exc_info=True)
        return None
    finally:
        if opened is not None:
            _close_storage(opened)


def _search_settings(job: TrainingJob, worker: int, host: str, max_time_s: float | None = None) -> SearchSettings:
    parameters = job.parameters
    return SearchSettings(study=search_study_name(job), storage=search_storage_url(), trials=parameters["trials"],
                          max_time_s=max_time_s, objective=parameters["objective"], folds=parameters["folds"],
                          seed=parameters["seed"], worker=worker, space=_space(parameters), host=host,
                          heartbeat_s=settings.PLEURA_SEARCH_HEARTBEAT_S)


def _close_storage(storage: optuna.storages.BaseStorage) -> None:
    """Close the storage's pooled database connections (Optuna keeps them open for the life of the process)."""
    from optuna.storages import RDBStorage

    if isinstance(storage, RDBStorage):
        storage.engine.dispose()


def _run_trials(job: TrainingJob, worker: int, host: str, opened: list[optuna.storages.BaseStorage]) -> optuna.Study:
    """Embed the labelled videos (cached, shared with training), then join the study and run trials; the storage
    it opens is added to `opened` (the caller closes it once done with the study)."""
    from ml.search import bag_evaluator
    from ml.training import EmbeddingTrainConfig

    parameters = job.parameters
    selection = DataSelection.from_dict(job.data_selection)
    base = {k: v for k, v in parameters["base"].items() if k != "activate"}
    config = EmbeddingTrainConfig.from_dict({**base, "device": torch_device()})
    labels, findings = video_consensus_labels(selection), video_consensus_findings(selection)
    with media_session():
        bags = embedding_bags(sorted(labels), config, labels=labels, findings=findings)
    evaluate = bag_evaluator(bags, folds=parameters["folds"], objective=parameters["objective"],
                             seed=parameters["seed"], base=config)
    remaining = None
    if parameters.get("max_time_s"):
        started = job.started_at or timezone.now()
        remaining = max(1.0, parameters["max_time_s"] - (timezone.now() - started).total_seconds())
    options = _search_settings(job, worker, host, max_time_s=remaining)
    storage = _open_storage(options)
    opened.append(storage)
    search_progress_merge(job.pk, {"phase": "search", "steps": parameters["trials"]})
    return run_search(options, evaluate, storage=storage,
                      on_trial=_trial_callback(job, parameters["trials"], worker))


def _open_storage(options: SearchSettings, *, attempts: int = 4) -> optuna.storages.BaseStorage:
    """Optuna's storage; workers starting together may race creating its tables, so retry a few times."""
    from ml.search import open_storage

    assert options.storage is not None
    for attempt in range(attempts):
        try:
            return open_storage(options.storage, heartbeat_s=options.heartbeat_s, grace_s=options.grace_s,
                                retries=options.retries)
        except Exception:  # a concurrent CREATE TABLE: the other worker made them
            if attempt == attempts - 1:
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def search_best_parameters(job: TrainingJob) -> dict[str, Any]:
    """The best trial's training configuration (what "train best" submits).

    Raises:
        Conflict: not a search job, or no trial completed yet.
    """
    if job.job_type != JobType.SEARCH:
        raise Conflict(f"job {job.pk} is not a search")
    best = ((job.progress or {}).get("summary") or {}).get("best")
    if not best or not best.get("config"):
        raise Conflict(f"search job {job.pk} has no completed trial yet")
    return {key: value for key, value in best["config"].items() if key != "device"}


def search_train_best(*, job: TrainingJob, created_by: User | None = None,
                      enqueue: Callable[[int], object] | None = None) -> TrainingJob:
    """Train the search's best configuration on the search's data selection: an ordinary training job (its
    version is registered, and activated, as any other)."""
    parameters = search_best_parameters(job)
    return training_job_submit(kind=job.kind, parameters=parameters, data_selection=job.data_selection,
                               created_by=created_by, enqueue=enqueue)
