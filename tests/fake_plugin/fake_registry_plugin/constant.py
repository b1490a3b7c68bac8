"""fake.constant — reports a fixed value; optionally raises, to stand in for an evaluator that breaks."""

from __future__ import annotations

from pydantic import Field

from registry import Evaluator, Measurement, Params, Run, Stat


class ConstantParams(Params):
    value: float = Field(1.0, description="The value reported as statistic `value`.")
    n: int = Field(10, ge=0, description="The number of observations reported.")
    raise_error: str | None = Field(None, description="When set, evaluate raises RuntimeError with this message.")


class Constant(Evaluator[ConstantParams]):
    """Report `value` and `n` as given, whatever the run holds."""

    name = "fake.constant"
    levels = frozenset({"loss", "activation", "text"})
    version = "7"
    Params = ConstantParams
    statistics = (Stat("value", "The `value` param, as given."),)

    def evaluate(self, params: ConstantParams, run: Run) -> Measurement:  # noqa: ARG002 - the run is not read
        if params.raise_error is not None:
            raise RuntimeError(params.raise_error)
        return Measurement(statistics={"value": params.value}, n=params.n)
