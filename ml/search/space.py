"""A search space declared as data: what the hyper-parameter search may vary, validated before any trial runs.

A space is a list of :class:`Param` (JSON-friendly: what a job submission carries); :func:`space_from_dicts`
reads one and :func:`validate_space` refuses an empty space, unknown types, bad bounds or a condition on a
parameter that does not precede it, with one message naming every problem. :func:`suggest` asks an Optuna
trial for one configuration (a parameter with ``when`` is only drawn when the named earlier parameter took
one of the listed values, e.g. the attention width only for ``attention_mil``).

:data:`EMBEDDING_SPACE` is the default space of the ``embedding`` kind (the recommended CPU recipe,
:class:`ml.training.EmbeddingTrainConfig`); :func:`embedding_config` turns a drawn configuration into that
recipe's config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["AGGREGATORS", "EMBEDDING_SPACE", "PARAM_TYPES", "Param", "SpaceError", "Trialish", "default_params",
           "embedding_config", "space_from_dicts", "space_to_dicts", "suggest", "validate_space"]

PARAM_TYPES = ("float", "int", "categorical")
#: how a video's probabilities are read from the head: the pooled head (``head``, the recipe) or the mean of
#: its per-frame probabilities (``argmax_mean``)
AGGREGATORS = ("head", "argmax_mean")


class SpaceError(ValueError):
    """A search space (or the data it runs on) that cannot be searched; the message lists every problem."""


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        name: the config field it sets (``model_kwargs.<key>`` sets a head argument).
        type: ``float``, ``int`` or ``categorical``.
        low, high: bounds of ``float``/``int`` (inclusive); ``log`` draws on a log scale (``low`` > 0).
        step: grid step of an ``int`` (default 1).
        choices: the values of a ``categorical`` (JSON scalars).
        when: ``{earlier param: [values]}``: drawn only when that parameter took one of the values.
    """

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """What is wrong with this parameter on its own (empty when it is valid)."""
        label = f"parameter {self.name!r}" if self.name else "a parameter without a name"
        if not self.name:
            return [f"{label}: a name is required"]
        if self.type not in PARAM_TYPES:
            return [f"{label}: type must be one of {', '.join(PARAM_TYPES)}, got {self.type!r}"]
        if self.type == "categorical":
            if not self.choices:
                return [f"{label}: a categorical needs at least one choice"]
            if len(set(map(repr, self.choices))) != len(self.choices):
                return [f"{label}: repeated choices"]
            bad = [c for c in self.choices if not isinstance(c, str | int | float | bool) and c is not None]
            return [f"{label}: choices must be JSON scalars, got {bad!r}"] if bad else []
        if self.low is None or self.high is None:
            return [f"{label}: {self.type} needs low and high"]
        if not all(math.isfinite(float(v)) for v in (self.low, self.high)):
            return [f"{label}: low and high must be finite"]
        out = []
        if self.low > self.high:
            out.append(f"{label}: low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            out.append(f"{label}: a log scale needs low > 0, got {self.low}")
        if self.type == "int":
            if int(self.low) != self.low or int(self.high) != self.high:
                out.append(f"{label}: int bounds must be whole numbers")
            if self.step is not None and self.step < 1:
                out.append(f"{label}: step must be >= 1")
            if self.log and self.step not in (None, 1):
                out.append(f"{label}: a log scale takes no step")
        return out


def validate_space(space: Sequence[Param], *, known: Iterable[str] | None = None) -> None:
    """Refuse a space that cannot be searched.

    Args:
        known: the parameter names the model kind understands (others are refused); None: any.

    Raises:
        SpaceError: listing every problem (empty space, bad bounds, unknown or repeated names, conditions
            on a parameter that is unknown, later, or lacks the value).
    """
    if not space:
        raise SpaceError("the search space is empty: declare at least one parameter")
    problems: list[str] = []
    seen: dict[str, Param] = {}
    allowed = set(known) if known is not None else None
    for param in space:
        problems += param.problems()
        if param.name in seen:
            problems.append(f"parameter {param.name!r} is declared twice")
        if allowed is not None and param.name and param.name not in allowed \
                and not param.name.startswith("model_kwargs."):
            problems.append(f"parameter {param.name!r} is not a setting of this model kind "
                            f"(known: {', '.join(sorted(allowed))})")
        for other, values in param.when.items():
            parent = seen.get(other)
            if parent is None:
                problems.append(f"parameter {param.name!r}: its condition names {other!r}, which must be "
                                "declared before it")
            elif parent.type != "categorical" or not set(map(repr, values)) <= set(map(repr, parent.choices)):
                problems.append(f"parameter {param.name!r}: its condition on {other!r} needs values among "
                                f"that categorical's choices")
        seen[param.name] = param
    if problems:
        raise SpaceError("; ".join(problems))


def space_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Param]:
    """Parameters from JSON objects (``{"name", "type", "low", "high", "log", "step", "choices", "when"}``),
    validated by :func:`validate_space`.

    Raises:
        SpaceError: on unknown keys or an invalid space.
    """
    fields = {f.name for f in dataclasses.fields(Param)}
    out, problems = [], []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.append(f"item {index}: a parameter is an object")
            continue
        unknown = sorted(set(item) - fields)
        if unknown:
            problems.append(f"item {index}: unknown keys {', '.join(unknown)}")
            continue
        data = dict(item)
        data["choices"] = tuple(data.get("choices") or ())
        data["when"] = {k: tuple(v) for k, v in (data.get("when") or {}).items()}
        out.append(Param(**data))
    if problems:
        raise SpaceError("; ".join(problems))
    validate_space(out)
    return out


def space_to_dicts(space: Sequence[Param]) -> list[dict[str, Any]]:
    """The JSON form of a space (what :func:`space_from_dicts` reads back), without defaults."""
    out = []
    for param in space:
        item: dict[str, Any] = {"name": param.name, "type": param.type}
        if param.type == "categorical":
            item["choices"] = list(param.choices)
        else:
            item.update(low=param.low, high=param.high)
            if param.log:
                item["log"] = True
            if param.step is not None:
                item["step"] = param.step
        if param.when:
            item["when"] = {k: list(v) for k, v in param.when.items()}
        out.append(item)
    return out


class Trialish(Protocol):
    """The part of :class:`optuna.trial.Trial` that :func:`suggest` uses."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def suggest(trial: Trialish, space: Sequence[Param]) -> dict[str, Any]:
    """One configuration drawn from ``space`` (parameters whose condition is not met are left out)."""
    params: dict[str, Any] = {}
    for param in space:
        if any(params.get(other, _MISSING) not in values for other, values in param.when.items()):
            continue
        if param.type == "categorical":
            params[param.name] = trial.suggest_categorical(param.name, list(param.choices))
        elif param.type == "int":
            params[param.name] = trial.suggest_int(param.name, int(param.low), int(param.high),  # type: ignore[arg-type]
                                                   step=param.step or 1, log=param.log)
        else:
            params[param.name] = trial.suggest_float(param.name, float(param.low), float(param.high),  # type: ignore[arg-type]
                                                     log=param.log)
    return params


_MISSING = object()


#: The ``embedding`` kind's default space around the recommended recipe (its defaults lie inside every range):
#: head type, optimiser (L-BFGS to convergence, or early-stopped AdamW with its learning rate), L2, iterations /
#: epochs, SORD scale, class balance, findings weight, the attention head's projection, dropout and pooling,
#: and how video probabilities are read (the head, or the mean of the frame probabilities).
EMBEDDING_SPACE: tuple[Param, ...] = (
    Param("model", "categorical", choices=("embedding_probe", "attention_mil")),
    Param("optimizer", "categorical", choices=("lbfgs", "adamw")),
    Param("lr", "float", 1e-4, 1e-2, log=True, when={"optimizer": ("adamw",)}),
    Param("l2", "float", 1e-3, 10.0, log=True),
    Param("epochs", "int", 50, 400, step=50),
    Param("sord_scale", "float", 0.5, 8.0, log=True),
    Param("balanced", "categorical", choices=(True, False)),
    Param("findings_weight", "float", 0.0, 1.0),
    Param("model_kwargs.hidden", "categorical", choices=(0, 64, 128), when={"model": ("attention_mil",)}),
    Param("model_kwargs.dropout", "float", 0.0, 0.5, when={"model": ("attention_mil",)}),
    Param("model_kwargs.pooling", "categorical", choices=("attention", "mean_std"), when={"model": ("attention_mil",)}),
    Param("aggregator", "categorical", choices=AGGREGATORS),
)


def default_params() -> dict[str, Any]:
    """The recommended recipe as a point of :data:`EMBEDDING_SPACE` (enqueued as the search's first trial)."""
    from ml.training.embedding import EmbeddingTrainConfig

    recipe = EmbeddingTrainConfig()
    return {"model": recipe.model, "optimizer": recipe.optimizer, "l2": recipe.l2, "epochs": recipe.epochs,
            "sord_scale": recipe.sord_scale, "balanced": recipe.balanced, "findings_weight": recipe.findings_weight,
            "aggregator": "head"}


def embedding_fields() -> set[str]:
    """The names an embedding space may set: the recipe's config fields and ``aggregator``."""
    from ml.training.embedding import EmbeddingTrainConfig

    return {f.name for f in dataclasses.fields(EmbeddingTrainConfig)} | {"aggregator"}


def embedding_config(params: Mapping[str, Any], base: Any = None) -> tuple[Any, str]:
    """``(EmbeddingTrainConfig, aggregator)`` for a drawn configuration over ``base`` (default: the recipe).

    Raises:
        SpaceError: on a name that is not a setting of the recipe, or values the recipe refuses.
    """
    from ml.training.embedding import EmbeddingTrainConfig

    base = base or EmbeddingTrainConfig()
    known = embedding_fields()
    updates: dict[str, Any] = {}
    kwargs = dict(base.model_kwargs)
    aggregator = "head"
    for name, value in params.items():
        if name == "aggregator":
            if value not in AGGREGATORS:
                raise SpaceError(f"aggregator must be one of {', '.join(AGGREGATORS)}, got {value!r}")
            aggregator = value
        elif name.startswith("model_kwargs."):
            kwargs[name.removeprefix("model_kwargs.")] = value
        elif name in known:
            updates[name] = value
        else:
            raise SpaceError(f"parameter {name!r} is not a setting of the embedding recipe")
    try:
        return dataclasses.replace(base, **updates, model_kwargs=kwargs), aggregator
    except (TypeError, ValueError) as exc:
        raise SpaceError(f"the recipe refuses this configuration: {exc}") from exc
