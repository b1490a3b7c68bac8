"""fake.legacy — written against the contract before `Stat`: plain names in `statistics`, no generics."""

from __future__ import annotations

from typing import Any

from registry import Evaluator, Measurement, Params


class LegacyParams(Params):
    pass


class Legacy(Evaluator):  # type: ignore[type-arg]
    """Report a count of 3 (its statistics are plain names: normalised to Stat(name, "") at load)."""

    name = "fake.legacy"
    levels = frozenset({"loss"})
    version = "1"
    Params = LegacyParams
    statistics = ("count",)  # type: ignore[assignment]

    def evaluate(self, params: Any, run: Any) -> Measurement:  # noqa: ARG002
        return Measurement(statistics={"count": 3}, n=1)
