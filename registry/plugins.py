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
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .runs.run import Run

ENTRY_POINT_GROUP = "registry.evaluators"

Statistic = float | int | str | bool | None


class Params(BaseModel):
    """Base for an evaluator's parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
    # against a numeric statistic is an error at validate.
    type: type = float


@dataclass(frozen=True)
class Measurement:
    """What an evaluator measured on one run. The core judges it; the evaluator never does."""

    # Named statistics that `expect` lines compare: numbers, or short strings.
    statistics: Mapping[str, Statistic]
    # Independent observations behind the statistics; the judge compares it with `min_samples`.
    n: int
    # Supporting detail for a reader of the verdict (e.g. event steps); capped in size when stored.
    evidence: Mapping[str, Any] = field(default_factory=dict)


class Evaluator(ABC):
    """Measures one kind of prediction on a run. Subclass it and register it as an entry point.

    A reference implementation every evaluator resembles is `evaluators/reference.py`.
    """

    # Registered name, `<area>.<what>`, equal to the entry point's name.
    name: ClassVar[str]
    # The prediction levels this evaluator can judge (of "loss", "activation", "text").
    levels: ClassVar[frozenset[str]]
    # Bumped whenever the same inputs could give different statistics; recorded in verdicts.
    version: ClassVar[str]
    # Parameter model, validated already at `registry validate`.
    Params: ClassVar[type[Params]]
    # Names of the statistics `expect` lines may use.
    statistics: ClassVar[tuple[str, ...]]
    # "run": measures one run at a time; "runs": measures a set of runs (see CrossRunEvaluator).
    across: ClassVar[str] = "run"
    # Optional: the closed interval each statistic always lies in (e.g. {"p_value": (0, 1)}), so
    # `registry validate` can warn about an expect line that cannot fail (`fraction >= 0`).
    ranges: ClassVar[Mapping[str, tuple[float, float]]] = {}
    # Optional: statistics that are rates over the `n` observations; validate warns when a
    # prediction comparing one leaves `min_samples` at its default of 1.
    rates: ClassVar[frozenset[str]] = frozenset()

    def statistics_for(self, params: Any) -> tuple[str, ...]:
        """Statistics produced under these params (override when they depend on params)."""
        return self.statistics

    def check(self, params: Any, evaluators: EvaluatorRegistry) -> None:
        """Checks at load time that need other evaluators (e.g. nested params); raise ValueError."""
        return None

    def group_names(self, params: Any) -> list[str]:
        """Names of prediction `groups` these params refer to (checked at load time)."""
        return []

    @abstractmethod
    def evaluate(self, params: Any, run: Run) -> Measurement:
        """Measure on `run`. Raise `CannotMeasure(reason)` when there is nothing to measure."""

    @classmethod
    def describe(cls) -> str:
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


class CrossRunEvaluator(Evaluator):
    """Measures a set of runs at once, for predictions with `across: runs`.

    `groups` maps each group name of the prediction (or "all" when it declares none) to its runs,
    in run-id order. `evaluators` lets it call per-run evaluators (e.g. to aggregate a statistic).
    """

    across = "runs"

    def evaluate(self, params: Any, run: Run) -> Measurement:
        raise TypeError(f"{self.name} measures several runs; the registry calls evaluate_runs")

    @abstractmethod
    def evaluate_runs(
        self, params: Any, groups: Mapping[str, Sequence[Run]], evaluators: EvaluatorRegistry
    ) -> Measurement:
        """Measure across the runs. Raise `CannotMeasure(reason)` when there is nothing to measure."""


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
        self._loaded: dict[str, Evaluator] = {}
        self._failed: dict[str, PluginFailure] = {}

    @classmethod
    def from_evaluators(cls, *evaluators: type[Evaluator]) -> EvaluatorRegistry:
        """A registry of the given classes, without entry points (for embedding and tests)."""
        reg = cls(entry_points=[])
        for ev in evaluators:
            reg._loaded[ev.name] = ev()
        return reg

    def names(self) -> list[str]:
        return sorted(set(self._entry_points) | set(self._loaded))

    def get(self, name: str) -> Evaluator:
        """The evaluator called `name`; raises UnknownEvaluator or EvaluatorUnavailable."""
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise EvaluatorUnavailable(self._failed[name])
        ep = self._entry_points.get(name)
        if ep is None:
            raise UnknownEvaluator(name, self.names())
        try:
            obj = ep.load()
            evaluator = obj() if isinstance(obj, type) else obj
            if not isinstance(evaluator, Evaluator):
                raise TypeError(f"{ep.value} is not an Evaluator subclass")
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

    def load_all(self) -> tuple[list[Evaluator], list[PluginFailure]]:
        """Load every installed evaluator (for `registry evaluators`)."""
        ok: list[Evaluator] = []
        for name in self.names():
            with contextlib.suppress(EvaluatorUnavailable):
                ok.append(self.get(name))
        return ok, [self._failed[n] for n in sorted(self._failed)]


def params_schema(evaluator: Evaluator) -> dict[str, Any]:
    return evaluator.Params.model_json_schema()
