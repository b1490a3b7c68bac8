"""text.perplexity — per-sample and pooled perplexity from token_logprobs."""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.text import WindowScan, mean_logprob, safe_exp
from .._lib.windows import StepWindow, window_phrase

if TYPE_CHECKING:
    from registry import Run


class PerplexityParams(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None


class Perplexity(Evaluator[PerplexityParams]):
    """Per-sample and pooled perplexity of the generated tokens over a step window (from token_logprobs).

    `perplexity` = exp(-(sum of all token logprobs) / tokens), pooled over the window's tokens;
    `mean_logprob` = the pooled mean token logprob; `sample_perplexity_mean` and
    `sample_perplexity_median` reduce exp(-mean logprob) of each sample. Null logprobs (e.g. the
    first token of an echoed prompt) are skipped and counted in `missing_logprobs`. `n` is the
    number of samples with at least one logprob; `tokens` the number of tokens pooled.
    """

    name = "text.perplexity"
    levels = frozenset({"text"})
    version = "1"
    Params = PerplexityParams
    statistics = (
        Stat("perplexity", "exp(-(sum of the window's token logprobs) / tokens), pooled.", range=(1, math.inf)),
        Stat("mean_logprob", "The pooled mean token logprob.", range=(-math.inf, 0)),
        Stat("sample_perplexity_mean", "Mean over samples of exp(-mean logprob of the sample).", range=(1, math.inf)),
        Stat("sample_perplexity_median", "Median over samples of exp(-mean logprob of the sample).", range=(1, math.inf)),
        Stat("tokens", "Tokens with a logprob, pooled.", range=(0, math.inf), type=int),
        Stat("missing_logprobs", "Null token logprobs skipped.", range=(0, math.inf), type=int),
    )

    def evaluate(self, params: PerplexityParams, run: Run) -> Measurement:
        import numpy as np

        scan = WindowScan(run, params.artifact, [params.steps])
        per_sample = array("d")
        total = 0.0
        tokens = missing = without = 0
        for _, s in scan:
            if not s.has_logprobs:
                without += 1
                continue
            lp_sum, have, miss = mean_logprob(s)
            missing += miss
            if have:
                total += lp_sum
                tokens += have
                per_sample.append(safe_exp(-lp_sum / have))
        scan.require(0)
        if not per_sample:
            what = "has token_logprobs" if without == scan.counts[0] else "has a non-null token logprob"
            raise CannotMeasure(f"none of the {scan.counts[0]} samples{window_phrase(params.steps)} {what}")
        ppl = np.frombuffer(per_sample, dtype=np.float64)
        return Measurement(
            statistics={
                "perplexity": safe_exp(-total / tokens),
                "mean_logprob": total / tokens,
                "sample_perplexity_mean": float(np.mean(ppl)),
                "sample_perplexity_median": float(np.median(ppl)),
                "tokens": tokens,
                "missing_logprobs": missing,
            },
            n=len(per_sample),
            evidence={"samples_without_logprobs": without},
        )
