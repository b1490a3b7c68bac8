"""activation.attention — per-head attention entropy and weights from attention patterns, and the
largest pre-softmax attention logit from attention scores.

Definitions (natural logarithms throughout):
- A row is one query's distribution over keys: the last axis of a `[..., head, query, key]` tensor.
- Entropy of a row: H = -Σ p log p over the weights p > 0 (masked keys have weight 0). From scores,
  the row's softmax is taken first; masked scores are -inf. A head's entropy is the mean of H over
  all its rows (every batch element and query position). Causally masked early queries have few keys
  and low entropy by construction; they are included, as in the usual per-head averages.
- `entropy_mean` / `entropy_min`: mean / minimum of the heads' entropies (over every matching tensor,
  e.g. every layer); `frac_low_entropy`: fraction of heads whose entropy is below `entropy_below`.
- `max_weight`: the largest attention weight anywhere.
- `max_logit` (scores only): the largest finite pre-softmax score anywhere.
- Rows holding NaN or +inf are left out and counted in `nonfinite` (rows); rows that are entirely
  masked (-inf) are left out silently. A "pattern" whose rows do not sum to 1 (within 0.02, enough
  for bf16) is refused: it is probably scores.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from registry import Evaluator, Measurement, Params, Stat

from .._lib.attention import ATTENTION_STATS, measure_attention
from .._lib.checkpoints import SERIES_STATISTICS, measure_checkpoints
from .._lib.reduce import Reduce
from .._lib.stats import count, fraction
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    from registry import Run


class AttentionParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact.")
    tensor: str = Field(
        "blocks.*.attn.hook_pattern",
        description="Attention patterns or pre-softmax scores [..., head, query, key]: a name, alias or glob.",
    )
    kind: Literal["auto", "pattern", "scores"] = Field(
        "auto", description="auto: scores when the tensor's name contains 'score', else pattern."
    )
    head_axis: str = Field("head", description="Name of the head axis (without axis names: third from the end).")
    entropy_below: float | None = Field(
        None, ge=0, description="Entropy (nats) under which a head counts as low-entropy, for frac_low_entropy."
    )
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="Folder of checkpoints: how per-checkpoint values become each statistic.")


class Attention(Evaluator[AttentionParams]):
    """Per-head attention entropy, the largest attention weight, the fraction of low-entropy heads
    (from patterns or scores), and the largest pre-softmax logit (from scores).

    Entropy in nats, per head the mean over all its rows (batch × query); see the module docstring
    for every definition. Rows with NaN/+inf are left out and counted in `nonfinite`. `heads`
    counts the heads measured (layers × heads). Over a folder of checkpoints every statistic is the
    `reduce` of its per-checkpoint values, and the series statistics describe `entropy_mean`.
    `n`: heads measured for a single file; checkpoints measured for a folder.
    """

    name = "activation.attention"
    levels = frozenset({"activation"})
    version = "1"
    Params = AttentionParams
    statistics = (
        Stat("entropy_mean", "Mean of the heads' entropies (nats).", range=(0, math.inf)),
        Stat("entropy_min", "Smallest head entropy (nats).", range=(0, math.inf)),
        fraction("max_weight", "The largest attention weight anywhere."),
        fraction("frac_low_entropy", "Heads whose entropy is below `entropy_below` / heads."),
        Stat("max_logit", "The largest finite pre-softmax score (from scores only)."),
        count("heads", "Heads measured (layers × heads)."),
        count("rows", "Query rows used."),
        count("nonfinite", "Rows holding NaN or +inf, left out."),
        *SERIES_STATISTICS,
    )

    def evaluate(self, params: AttentionParams, run: Run) -> Measurement:
        art = run.tensors(params.artifact)
        return measure_checkpoints(
            art,
            params.steps,
            lambda store: measure_attention(store, params.tensor, params.kind, params.head_axis, params.entropy_below),
            main=ATTENTION_STATS,
            how=params.reduce,
            totals=("nonfinite", "rows"),
        )
