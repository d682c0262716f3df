"""Hyper-parameter search (ml.search): space validation, a tiny real search that prunes, several processes on
one study (SQLite and PostgreSQL), and a process killed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from ml.embeddings import VideoBag
from ml.search import (
    EMBEDDING_SPACE,
    Param,
    SearchSettings,
    SpaceError,
    bag_evaluator,
    check_bags,
    default_params,
    embedding_config,
    open_storage,
    run_search,
    space_from_dicts,
    space_to_dicts,
    storage_url,
    summarise,
    validate_space,
)
from ml.search.__main__ import main as cli_main

WORKER = Path(__file__).with_name("search_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def synthetic_bags(patients: int = 12, seed: int = 0) -> list[VideoBag]:
    """Two videos per patient; the first four embedding features carry the score (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    bags = []
    for p in range(patients):
        for v in range(2):
            score = int(rng.integers(0, 4))
            x = rng.normal(size=(5, 12)).astype(np.float32)
            x[:, :4] += 0.8 * score
            bags.append(VideoBag(f"p{p}v{v}", f"p{p}", x, np.arange(5), score, {"a_lines": score == 0}))
    return bags


# -- space -----------------------------------------------------------------------------------------------------

def test_default_space_is_valid_and_round_trips_through_json():
    validate_space(EMBEDDING_SPACE)
    again = space_from_dicts(json.loads(json.dumps(space_to_dicts(EMBEDDING_SPACE))))
    assert space_to_dicts(again) == space_to_dicts(EMBEDDING_SPACE)


@pytest.mark.parametrize(("space", "message"), [
    ([], "empty"),
    ([Param("l2", "float", 1.0, 0.1)], "above high"),
    ([Param("l2", "float", 0.0, 1.0, log=True)], "log scale needs low > 0"),
    ([Param("l2", "float", None, 1.0)], "needs low and high"),
    ([Param("epochs", "int", 1.5, 10)], "whole numbers"),
    ([Param("model", "categorical")], "at least one choice"),
    ([Param("l2", "number", 0.0, 1.0)], "type must be one of"),
    ([Param("l2", "float", 0, 1), Param("l2", "float", 0, 1)], "declared twice"),
    ([Param("lr", "float", 1e-4, 1e-2, when={"optimizer": ("adamw",)})], "must be declared before it"),
    ([Param("optimizer", "categorical", choices=("lbfgs",)),
      Param("lr", "float", 1e-4, 1e-2, when={"optimizer": ("sgd",)})], "among that categorical's choices"),
])
def test_bad_spaces_are_refused_with_a_clear_message(space, message):
    with pytest.raises(SpaceError, match=message):
        validate_space(space)


def test_every_problem_is_listed_and_unknown_names_refused():
    with pytest.raises(SpaceError) as info:
        validate_space([Param("l2", "float", 2.0, 1.0), Param("colour", "categorical", choices=("red",))],
                       known={"l2"})
    assert "above high" in str(info.value) and "'colour' is not a setting" in str(info.value)
    with pytest.raises(SpaceError, match="unknown keys bounds"):
        space_from_dicts([{"name": "l2", "type": "float", "bounds": [0, 1]}])
    with pytest.raises(SpaceError, match="empty"):
        space_from_dicts([])


def test_no_labels_or_too_few_patients_are_refused():
    bags = synthetic_bags()
    unlabelled = [VideoBag(b.video, b.patient, b.embeddings, b.frames, None) for b in bags]
    with pytest.raises(SpaceError, match="no labelled video"):
        check_bags(unlabelled, 5)
    with pytest.raises(SpaceError, match="too few"):
        bag_evaluator(bags[:6], folds=5)
    with pytest.raises(SpaceError, match="objective must be one of"):
        bag_evaluator(bags, objective="auc")
    with pytest.raises(SpaceError, match="trials must be >= 1"):
        SearchSettings(study="s", trials=0)


def test_params_map_onto_the_recipe():
    config, aggregator = embedding_config({"model": "attention_mil", "l2": 0.5, "model_kwargs.hidden": 0,
                                           "aggregator": "argmax_mean"})
    assert (config.model, config.l2, config.model_kwargs, aggregator) == ("attention_mil", 0.5, {"hidden": 0},
                                                                          "argmax_mean")
    assert embedding_config(default_params())[0] == embedding_config({})[0]
    with pytest.raises(SpaceError, match="not a setting"):
        embedding_config({"colour": 1})
    with pytest.raises(SpaceError, match="refuses"):
        embedding_config({"optimizer": "sgd"})
    assert storage_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


# -- a real (tiny) search ---------------------------------------------------------------------------------------

def test_tiny_search_runs_prunes_and_summarises():
    torch.set_num_threads(1)
    space = [Param("l2", "float", 1e-3, 300.0, log=True), Param("epochs", "int", 5, 40, step=5),
             Param("balanced", "categorical", choices=(True, False))]
    settings = SearchSettings(study="tiny", trials=8, folds=3, pruner_startup_trials=2, space=space)
    study = run_search(settings, bag_evaluator(synthetic_bags(), folds=3))
    summary = summarise(study)
    assert sum(summary["counts"].values()) == 8
    assert summary["counts"].get("PRUNED", 0) >= 1 and summary["counts"].get("COMPLETE", 0) >= 2
    pruned = [t for t in summary["history"] if t["state"] == "PRUNED"]
    assert all(len(t["intermediate"]) < 3 for t in pruned)  # stopped before the last fold
    assert 0 < summary["best"]["value"] <= 1 and set(summary["best"]["params"]) == {"l2", "epochs", "balanced"}
    assert summary["best"]["config"]["l2"] == summary["best"]["params"]["l2"]
    assert set(summary["importances"]) <= {"l2", "epochs", "balanced"} and summary["importance_method"]
    json.dumps(summary, default=str)


def test_default_trial_equals_the_recipes_cross_validation():
    from ml.training import EmbeddingTrainConfig, cross_validate

    torch.set_num_threads(1)
    bags = synthetic_bags()
    study = run_search(SearchSettings(study="default", trials=1, folds=3), bag_evaluator(bags, folds=3))
    assert study.trials[0].user_attrs["default"] is True
    expected = cross_validate(EmbeddingTrainConfig(), bags, k=3)["quadratic_kappa_mean"]
    assert study.trials[0].value == pytest.approx(expected)


def test_cli_prints_trials_and_writes_the_summary(tmp_path, capsys):
    assert cli_main(["--data", str(tmp_path / "missing"), "--trials", "1"]) == 2
    assert "severity.csv" in capsys.readouterr().err
    space = tmp_path / "space.json"
    space.write_text("[]")
    (tmp_path / "severity.csv").write_text("")
    assert cli_main(["--data", str(tmp_path), "--space", str(space)]) == 2
    assert "empty" in capsys.readouterr().err


# -- several processes, one study ---------------------------------------------------------------------------------

def _workers(storage: str, study: str, trials: int, count: int) -> None:
    open_storage(storage).engine.dispose()  # the schema created once, before the workers race
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(WORKER), storage, study, str(trials), str(w), "fast"], env=env)
             for w in range(count)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0


def _check_shared(storage: str, study_name: str, trials: int) -> None:
    study = optuna.load_study(study_name=study_name, storage=storage)
    finished = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert trials <= len(finished) <= trials + 1  # a process finishing its trial after the budget was reached
    assert len({t.user_attrs["pid"] for t in finished}) == 2  # both processes ran trials
    assert len({t.number for t in study.trials}) == len(study.trials)


def test_two_processes_share_one_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    _workers(storage, "shared", 16, 2)
    _check_shared(storage, "shared", 16)


def test_two_processes_share_one_postgresql_study():
    psycopg = pytest.importorskip("psycopg")
    name = f"pleura_search_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                                connect_timeout=5)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            storage = f"postgres://postgres@127.0.0.1:5432/{name}"
            _workers(storage, "shared", 12, 2)
            _check_shared(storage_url(storage), "shared", 12)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_killed_process_leaves_its_trial_failed_and_the_study_going(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    marker = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WORKER), storage, "killed", "4", "0", "hang", str(marker)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the worker never started its trial"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(3)  # past the grace period (2 s): its heartbeat is stale
    _workers(storage, "killed", 4, 1)
    study = optuna.load_study(study_name="killed", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 4
