"""The evaluator contract, and discovery of evaluators through the `registry.evaluators` entry points.

Built-in evaluators are found exactly like third-party ones. Entry points are listed without
importing them; each is loaded on its own, on first use, so a plugin that fails to import costs
only the claims that use it.
"""

from __future__ import annotations

import contextlib
import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .runs.run import Run

ENTRY_POINT_GROUP = "registry.evaluators"

Statistic = float | int | str | bool | None


class Params(BaseModel):
    """Base for an evaluator's parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# An evaluator's own Params model: `Evaluator[ThresholdParams]` types `evaluate(params, run)`.
P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Stat:
    """One statistic an evaluator reports: the plugin contract as data.

    `registry evaluators`, the JSON Schema, lints and the judge read these; nothing else declares
    what an evaluator reports.
    """

    name: str
    # What the number means, in one sentence (shown by `registry evaluators NAME`).
    doc: str
    # The closed interval the statistic always lies in, so a lint can flag an expect line that
    # cannot fail (`fraction >= 0`) or never hold (`p_value > 1`).
    range: tuple[float, float] | None = None
    # A rate over the measurement's `n` observations: a lint warns when `min_samples` stays at 1.
    rate: bool = False
    # The type of the value (null is always allowed: an undefined statistic); a quoted number
    # against a numeric statistic is an error at validate. `object`: not declared (any value).
    type: type = float

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a statistic needs a name")
        if self.type not in (float, int, str, bool, object):
            raise ValueError(f"statistic {self.name!r}: type must be float, int, str or bool, not {self.type!r}")
        if self.range is not None and not self.range[0] <= self.range[1]:
            raise ValueError(f"statistic {self.name!r}: range {self.range} is empty")


@dataclass(frozen=True)
class Measurement:
    """What an evaluator measured on one run. The core judges it; the evaluator never does."""

    # Named statistics that `expect` lines compare: numbers, or short strings.
    statistics: Mapping[str, Statistic]
    # Independent observations behind the statistics; the judge compares it with `min_samples`.
    n: int
    # Supporting detail for a reader of the verdict (e.g. event steps); capped in size when stored.
    evidence: Mapping[str, Any] = field(default_factory=dict)


class EvaluatorBase(ABC, Generic[P]):
    """What every evaluator declares, per-run or cross-run: the metadata the registry reads.

    Subclass `Evaluator` (one run at a time) or `CrossRunEvaluator` (a set of runs), never this.
    A reference implementation every evaluator resembles is `evaluators/metric/threshold.py`.
    """

    # Registered name, `<area>.<what>`, equal to the entry point's name.
    name: ClassVar[str]
    # The prediction levels this evaluator can judge (of "loss", "activation", "text").
    levels: ClassVar[frozenset[str]]
    # Bumped whenever the same inputs could give different statistics; recorded in verdicts.
    version: ClassVar[str]
    # Parameter model, validated already at `registry validate`.
    Params: ClassVar[type[Params]]
    # The statistics `expect` lines may use, each with its meaning, range, rate flag and type.
    statistics: ClassVar[tuple[Stat, ...]]
    # "run": measures one run at a time (`Evaluator`); "runs": a set of runs (`CrossRunEvaluator`).
    across: ClassVar[str]

    def statistics_for(self, params: P) -> tuple[Stat, ...]:  # noqa: ARG002 - overridden where they depend on params
        """Statistics produced under these params (override when they depend on params)."""
        return self.statistics

    def check(self, params: P, evaluators: EvaluatorRegistry) -> None:  # noqa: ARG002 - a hook
        """Checks at load time that need other evaluators (e.g. nested params); raise ValueError."""
        return None

    def group_names(self, params: P) -> list[str]:  # noqa: ARG002 - a hook
        """Names of prediction `groups` these params refer to (checked at load time)."""
        return []

    def stat(self, name: str) -> Stat | None:
        """The declared statistic called `name`, if any."""
        return next((s for s in self.statistics if s.name == name), None)

    @classmethod
    def describe(cls) -> str:
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


class Evaluator(EvaluatorBase[P]):
    """Measures one kind of prediction on one run. Subclass it and register it as an entry point."""

    across: ClassVar[str] = "run"

    @abstractmethod
    def evaluate(self, params: P, run: Run) -> Measurement:
        """Measure on `run`. Raise `CannotMeasure(reason)` when there is nothing to measure."""


class CrossRunEvaluator(EvaluatorBase[P]):
    """Measures a set of runs at once, for predictions with `across: runs`.

    `groups` maps each group name of the prediction (or "all" when it declares none) to its runs,
    in run-id order. `evaluators` lets it call per-run evaluators (e.g. to aggregate a statistic).
    """

    across: ClassVar[str] = "runs"

    @abstractmethod
    def evaluate_runs(self, params: P, groups: Mapping[str, Sequence[Run]], evaluators: EvaluatorRegistry) -> Measurement:
        """Measure across the runs. Raise `CannotMeasure(reason)` when there is nothing to measure."""


# An installed evaluator: the registry sorts each plugin into one of the two kinds when it loads it.
AnyEvaluator = Evaluator[Any] | CrossRunEvaluator[Any]


def classify(obj: object, value: str) -> AnyEvaluator:
    """The evaluator an entry point names (a class is instantiated), sorted into its kind.

    Like flake8's plugin finder, the registry decides once, at load, what kind of plugin it holds:
    per-run (`Evaluator`) or cross-run (`CrossRunEvaluator`); callers never probe for methods.
    Plain strings in `statistics` are normalised to `Stat(name, "", type=object)`, so a plugin written
    against the old contract keeps working (without docs, ranges, rates or a type); anything else is
    refused.
    """
    evaluator = obj() if isinstance(obj, type) else obj
    if not isinstance(evaluator, Evaluator | CrossRunEvaluator):
        raise TypeError(f"{value} is neither an Evaluator nor a CrossRunEvaluator subclass")
    declared = getattr(evaluator, "statistics", None)
    if not isinstance(declared, tuple | list):
        raise TypeError(f"{value}: `statistics` must be a tuple of registry.Stat")
    stats: list[Stat] = []
    for item in declared:
        if isinstance(item, str):
            item = Stat(item, "", type=object)
        if not isinstance(item, Stat):
            raise TypeError(f"{value}: statistic {item!r} is not a registry.Stat (or a plain name)")
        stats.append(item)
    names = [s.name for s in stats]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise TypeError(f"{value}: statistic {dup!r} is declared twice")
    if tuple(stats) != tuple(declared):
        setattr(evaluator, "statistics", tuple(stats))  # noqa: B010 - an instance attribute over the ClassVar
    return evaluator


@dataclass(frozen=True)
class PluginFailure:
    """An entry point that could not be loaded, with where it came from."""

    name: str
    value: str
    package: str
    package_version: str
    error: str

    def render(self) -> str:
        return (
            f"evaluator {self.name!r} from {self.package} {self.package_version} failed to load "
            f"({self.value}): {self.error}"
        )


class UnknownEvaluator(LookupError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.suggestions = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        super().__init__(name)


class EvaluatorUnavailable(LookupError):
    def __init__(self, failure: PluginFailure):
        self.failure = failure
        super().__init__(failure.render())


class EvaluatorRegistry:
    """The evaluators installed in this environment; one per invocation, passed where needed."""

    def __init__(self, entry_points: list[metadata.EntryPoint] | None = None):
        if entry_points is None:
            entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
        self._entry_points: dict[str, metadata.EntryPoint] = {}
        for ep in sorted(entry_points, key=lambda e: (e.name, e.value)):
            self._entry_points.setdefault(ep.name, ep)
        self._loaded: dict[str, AnyEvaluator] = {}
        self._failed: dict[str, PluginFailure] = {}

    @classmethod
    def from_evaluators(cls, *evaluators: type[AnyEvaluator]) -> EvaluatorRegistry:
        """A registry of the given classes, without entry points (for embedding and tests)."""
        reg = cls(entry_points=[])
        for ev in evaluators:
            reg._loaded[ev.name] = classify(ev, f"{ev.__module__}:{ev.__qualname__}")
        return reg

    def names(self) -> list[str]:
        return sorted(set(self._entry_points) | set(self._loaded))

    def get(self, name: str) -> AnyEvaluator:
        """The evaluator called `name`; raises UnknownEvaluator or EvaluatorUnavailable."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise EvaluatorUnavailable(self._failed[name])
        ep = self._entry_points.get(name)
        if ep is None:
            raise UnknownEvaluator(name, self.names())
        try:
            evaluator = classify(ep.load(), ep.value)
            if evaluator.name != name:
                raise TypeError(f"{ep.value} calls itself {evaluator.name!r}, not {name!r}")
        except Exception as exc:  # a broken plugin must not take the others down
            dist = ep.dist
            failure = PluginFailure(
                name=name,
                value=ep.value,
                package=dist.metadata["Name"] if dist is not None else "unknown package",
                package_version=dist.version if dist is not None else "?",
                error=f"{type(exc).__name__}: {exc}",
            )
            self._failed[name] = failure
            raise EvaluatorUnavailable(failure) from None
        self._loaded[name] = evaluator
        return evaluator

    def per_run(self, name: str) -> Evaluator[Any]:
        """The per-run evaluator called `name`; ValueError (located by the caller at the params that
        name it) when it is unknown, failed to load, or measures several runs at once."""
        try:
            evaluator = self.get(name)
        except UnknownEvaluator as exc:
            hint = f"; did you mean {exc.suggestions[0]!r}?" if exc.suggestions else " (see `registry evaluators`)"
            raise ValueError(f"unknown evaluator {name!r}{hint}") from None
        except EvaluatorUnavailable as exc:
            raise ValueError(exc.failure.render()) from None
        if not isinstance(evaluator, Evaluator):
            raise ValueError(f"{name} is not a per-run evaluator")
        return evaluator

    def load_all(self) -> tuple[list[AnyEvaluator], list[PluginFailure]]:
        """Load every installed evaluator (for `registry evaluators`)."""
        ok: list[AnyEvaluator] = []
        for name in self.names():
            with contextlib.suppress(EvaluatorUnavailable):
                ok.append(self.get(name))
        return ok, [self._failed[n] for n in sorted(self._failed)]


def params_schema(evaluator: AnyEvaluator) -> dict[str, Any]:
    return evaluator.Params.model_json_schema()
