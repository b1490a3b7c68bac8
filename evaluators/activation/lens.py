"""activation.lens — the logit lens: read each layer's residual stream through the model's final norm
and unembedding, and compare its top-1 with the model's output and with the targets.

Definitions:
- Per layer ℓ and position i: logits_ℓ,i = norm(resid_ℓ,i) · W_U + b_U, where norm is the final
  LayerNorm, (x - mean(x)) / sqrt(var(x) + eps) · w + b with the biased variance and eps = 1e-5
  (PyTorch's default; a parameter), or RMSNorm x / sqrt(mean(x²) + eps) · w, or none. W_U is
  [d_model, d_vocab] (TransformerLens); b_U, the norm bias and the norm itself are used when the
  artifact holds them (`norm: auto`). With `logits:` the per-layer logits are read as stored instead.
- The reference output is the lens of the last layer listed (the model's own output when that is the
  final residual stream), or the tensor `final:` names.
- `agreement`: fraction of positions where the layer's top-1 equals the output's top-1.
- `accuracy`: fraction of positions where the layer's top-1 equals the target.
- `cross_entropy`: mean over positions of logsumexp(logits) - logits[target], in nats.
- Statistics are for one layer (`layer`, an index into the ordered list of layers; default -2, the
  last but one); every layer's figures are in the evidence. Layers are ordered by the numbers in
  their names (`blocks.10` after `blocks.9`).
- Positions whose residual or logits hold a non-finite value are left out and counted in
  `nonfinite` (per layer, the chosen layer's count is reported); targets outside [0, vocab) are left
  out of accuracy and cross-entropy and counted in `ignored_targets`.
- `n`: positions measured at the chosen layer (single file); checkpoints measured (folder).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from registry import Evaluator, Measurement, Stat

from .._lib.checkpoints import SERIES_STATISTICS, measure_checkpoints
from .._lib.lens import LENS_STATS, LensSpec, measure_lens
from .._lib.reduce import Reduce
from .._lib.stats import count, fraction
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    from registry import Run


class LensParams(LensSpec):
    artifact: str = Field("activations", description="Name of the run's activation artifact.")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="Folder of checkpoints: how per-checkpoint values become each statistic.")


class Lens(Evaluator[LensParams]):
    """The logit lens: per layer, the agreement of the layer's top-1 with the output's top-1, its
    accuracy and its cross-entropy (nats) against the targets; statistics for one layer (default the
    last but one), every layer in the evidence.

    Residual streams go through the artifact's final LayerNorm (eps 1e-5 by default) and unembedding;
    or per-layer logits are read as stored. See the module docstring for every definition.
    `n`: positions measured at the chosen layer for a single file; checkpoints for a folder.
    """

    name = "activation.lens"
    levels = frozenset({"activation"})
    version = "1"
    Params = LensParams
    statistics = (
        fraction("agreement", "Positions where the layer's top-1 equals the output's top-1 / positions."),
        Stat(
            "cross_entropy", "Mean over positions of the layer's cross-entropy against the targets (nats).", range=(0, math.inf)
        ),
        fraction("accuracy", "Positions where the layer's top-1 equals the target / positions with a target."),
        Stat("final_cross_entropy", "The output's mean cross-entropy against the targets (nats).", range=(0, math.inf)),
        fraction("final_accuracy", "Positions where the output's top-1 equals the target / positions with a target."),
        Stat("layer", "Name of the reported layer.", type=str),
        count("layers", "Layers matching `resid` (or `logits`)."),
        count("positions", "Positions per layer."),
        count("nonfinite", "Positions of the reported layer with a non-finite value, left out."),
        count("ignored_targets", "Targets outside [0, vocab), left out of accuracy and cross-entropy."),
        *SERIES_STATISTICS,
    )

    def evaluate(self, params: LensParams, run: Run) -> Measurement:
        art = run.tensors(params.artifact)
        return measure_checkpoints(
            art,
            params.steps,
            lambda store: measure_lens(store, params),
            main=LENS_STATS,
            how=params.reduce,
            totals=("nonfinite",),
        )
