"""Hyper-parameter search: an Optuna study over a model kind's config space (declared as data), objective the
patient-level CV video quadratic kappa or weighted F1, TPE (seeded) and a median pruner on fold reports, a
trial and a wall-time budget, and RDB storage (SQLite file or PostgreSQL) shared by several processes, with
heartbeats so a process killed mid-trial leaves that trial failed and the study going. Never imports Django.

    python -m ml.search --data DIR --storage sqlite:///var/search.sqlite3 --study probe --trials 20
"""

from .objective import OBJECTIVES, Pruned, bag_evaluator, check_bags, cv_objective
from .space import (
    AGGREGATORS,
    EMBEDDING_SPACE,
    Param,
    SpaceError,
    default_params,
    embedding_config,
    space_from_dicts,
    space_to_dicts,
    suggest,
    validate_space,
)
from .study import SearchSettings, open_storage, param_importances, run_search, storage_url, summarise

__all__ = [
    "AGGREGATORS",
    "EMBEDDING_SPACE",
    "OBJECTIVES",
    "Param",
    "Pruned",
    "SearchSettings",
    "SpaceError",
    "bag_evaluator",
    "check_bags",
    "cv_objective",
    "default_params",
    "embedding_config",
    "open_storage",
    "param_importances",
    "run_search",
    "space_from_dicts",
    "space_to_dicts",
    "storage_url",
    "suggest",
    "summarise",
    "validate_space",
]
