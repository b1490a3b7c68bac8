"""activation.drift — how much one tensor, on the same probe inputs, changed between two checkpoints.

Definitions:
- `cosine`: cosine similarity of the two tensors flattened, over the element pairs where both are
  finite (Σ a·b / (‖a‖ ‖b‖), accumulated in float64).
- `cka`: linear CKA (Kornblith et al. 2019) between the two tensors seen as [samples, features]
  matrices: the `features` axes (named; default the last axis; they must be the trailing axes) are
  the features, every other axis is flattened into samples. With column-centred X and Y,
  CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F); 1 means the same representation up to rotation and scale.
  Samples (rows) holding a non-finite value in either tensor are left out. Computed in feature space
  (three features × features float64 matrices) up to 2,048 features, else in sample space up to
  4,096 samples; beyond both, `cka` is undefined and the evidence says why.
- `nonfinite`: element pairs left out of the cosine.
- `n`: samples behind the CKA (a single pair), or pairs of checkpoints (`consecutive`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.checkpoints import checkpoints_in, read_rows, trailing_width
from .._lib.reduce import Reduce, reduce_defined
from .._lib.stats import count
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    import numpy as np

    from registry import ActivationArtifact, Checkpoint, Run, Tensor

BLOCK = 1 << 21
FEATURE_GRAM_MAX = 2048
SAMPLE_GRAM_MAX = 4096
StepRef = int | Literal["first", "last"]


class DriftParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact (a folder of checkpoints).")
    tensor: str = Field(description="Tensor name or alias (the same in both checkpoints).")
    between: tuple[StepRef, StepRef] = Field(("first", "last"), description="The two checkpoints: steps, or first / last.")
    other: str | None = Field(None, description="Take the second checkpoint from this artifact instead (e.g. a second file).")
    consecutive: bool = Field(
        False, description="Instead of `between`: every checkpoint against the one before it, reduced by `reduce`."
    )
    steps: StepWindow = None
    reduce: Reduce = Field("min", description="With `consecutive`: how the pairs' values become each statistic.")
    features: list[str] = Field([], description="Named trailing axes that are CKA features (default: the last axis).")

    @model_validator(mode="after")
    def _modes(self) -> DriftParams:
        if self.consecutive and ("between" in self.model_fields_set or self.other is not None):
            raise ValueError("consecutive compares neighbouring checkpoints; it takes no `between` or `other`")
        if not self.consecutive and self.steps is not None:
            raise ValueError("steps is only used with consecutive: true")
        return self


@dataclass
class _Sums:
    """First pass over a pair: the cosine's sums, and column sums of the rows finite in both."""

    dot: float = 0.0
    sa2: float = 0.0
    sb2: float = 0.0
    nonfinite: int = 0
    used: int = 0
    col_a: Any = None
    col_b: Any = None


def _blocks(ta: Tensor, tb: Tensor, rows: int, width: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The two tensors as [rows, width], block by block of rows, in float64."""
    import numpy as np

    chunk = max(1, BLOCK // max(width, 1))
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        yield read_rows(ta, r0, r1, width, np.float64), read_rows(tb, r0, r1, width, np.float64)


def _sums(ta: Tensor, tb: Tensor, rows: int, width: int) -> _Sums:
    import numpy as np

    out = _Sums(col_a=np.zeros(width), col_b=np.zeros(width))
    for a, b in _blocks(ta, tb, rows, width):
        ok = np.isfinite(a) & np.isfinite(b)
        out.nonfinite += int(ok.size - ok.sum())
        az, bz = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
        out.dot += float(np.einsum("ij,ij->", az, bz))
        out.sa2 += float(np.einsum("ij,ij->", az, az))
        out.sb2 += float(np.einsum("ij,ij->", bz, bz))
        good = ok.all(axis=1)
        out.col_a += a[good].sum(axis=0)
        out.col_b += b[good].sum(axis=0)
        out.used += int(good.sum())
    return out


def _centred(ta: Tensor, tb: Tensor, rows: int, width: int, sums: _Sums) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The rows finite in both tensors, column-centred, block by block."""
    import numpy as np

    mu_a, mu_b = sums.col_a / sums.used, sums.col_b / sums.used
    for a, b in _blocks(ta, tb, rows, width):
        good = (np.isfinite(a) & np.isfinite(b)).all(axis=1)
        yield a[good] - mu_a, b[good] - mu_b


def _cka(ta: Tensor, tb: Tensor, rows: int, width: int, sums: _Sums) -> tuple[float | None, str]:
    """Linear CKA and how it was computed (feature space, sample space, or why not)."""
    import numpy as np

    if sums.used < 2:
        return None, ""
    if width <= FEATURE_GRAM_MAX:
        xx = np.zeros((width, width))
        yy = np.zeros((width, width))
        yx = np.zeros((width, width))
        for xa, xb in _centred(ta, tb, rows, width, sums):
            xx += xa.T @ xa
            yy += xb.T @ xb
            yx += xb.T @ xa
        denom = np.linalg.norm(xx) * np.linalg.norm(yy)
        return (float((yx * yx).sum() / denom) if denom > 0 else None), "feature space"
    if sums.used <= SAMPLE_GRAM_MAX:
        parts = list(_centred(ta, tb, rows, width, sums))
        x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        kx, ky = x @ x.T, y @ y.T
        denom = np.linalg.norm(kx) * np.linalg.norm(ky)
        return (float((kx * ky).sum() / denom) if denom > 0 else None), "sample space"
    return None, f"not computed: {width} features and {sums.used} samples exceed both limits"


def drift_between(ta: Tensor, tb: Tensor, features: list[str]) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """Statistics, n and evidence for one pair of tensors."""
    import numpy as np

    if ta.shape != tb.shape:
        raise CannotMeasure(
            f"{ta.name!r} has shape {list(ta.shape)} in {ta.source.name} but {list(tb.shape)} in {tb.source.name}: "
            "drift compares the same tensor on the same inputs"
        )
    if ta.ndim == 0:
        raise CannotMeasure(f"{ta.describe()} is a scalar")
    k = trailing_width(ta, features, "use as features")
    width = int(np.prod(ta.shape[ta.ndim - k :], dtype=np.int64))
    rows = ta.size // width if width else 0
    sums = _sums(ta, tb, rows, width)
    cosine = sums.dot / math.sqrt(sums.sa2 * sums.sb2) if sums.sa2 > 0 and sums.sb2 > 0 else None
    cka, how = _cka(ta, tb, rows, width, sums)
    stats = {"cosine": cosine, "cka": cka, "samples": sums.used, "features": width, "nonfinite": sums.nonfinite}
    return stats, sums.used, {"cka": how}


def _tensor_at(art: ActivationArtifact, ckpt: Checkpoint, name: str) -> Tensor:
    return art.store(ckpt).tensor(name)


class Drift(Evaluator[DriftParams]):
    """Similarity of one tensor on the same probe inputs between two checkpoints: the cosine of the
    flattened activations and linear CKA (features = the last axis unless `features` names others).

    Between two chosen checkpoints (`between`, default first and last) or, with `consecutive`, each
    checkpoint against the one before, the pairs' values reduced by `reduce` (default min: the
    largest change). See the module docstring for the definitions.
    `n`: samples behind the CKA for one pair; pairs of checkpoints with `consecutive`.
    """

    name = "activation.drift"
    levels = frozenset({"activation"})
    version = "1"
    Params = DriftParams
    statistics = (
        Stat("cosine", "Cosine similarity of the two tensors flattened, over pairs where both are finite.", range=(-1, 1)),
        Stat("cka", "Linear CKA between the two [samples, features] matrices (null beyond the size limits).", range=(0, 1)),
        count("samples", "Samples (rows) behind the CKA."),
        count("features", "Features per sample."),
        count("nonfinite", "Element pairs left out of the cosine."),
        Stat("step_a", "Step of the first checkpoint (of the pair reported, with `consecutive`).", type=int),
        Stat("step_b", "Step of the second checkpoint.", type=int),
        count("pairs", "Pairs of checkpoints compared."),
    )

    def evaluate(self, params: DriftParams, run: Run) -> Measurement:
        art = run.tensors(params.artifact)
        if params.consecutive:
            return self._consecutive(params, art)
        other = run.tensors(params.other) if params.other is not None else art
        a, b = art.pick(params.between[0]), other.pick(params.between[1])
        if other is art and a == b:
            raise CannotMeasure(
                f"drift needs two checkpoints; {art.path.name} gives {a.label} for both ends of {list(params.between)}"
            )
        stats, n, evidence = drift_between(
            _tensor_at(art, a, params.tensor), _tensor_at(other, b, params.tensor), params.features
        )
        stats.update(step_a=a.step, step_b=b.step, pairs=1)
        return Measurement(statistics=stats, n=n, evidence=evidence)

    def _consecutive(self, params: DriftParams, art: ActivationArtifact) -> Measurement:
        chosen = checkpoints_in(art, params.steps)
        if len(chosen) < 2:
            raise CannotMeasure(f"{art.path.name} has {len(chosen)} checkpoint(s) in the window; drift needs two")
        rows: list[dict[str, Any]] = []
        for prev, cur in zip(chosen, chosen[1:], strict=False):
            stats, _, _ = drift_between(
                _tensor_at(art, prev, params.tensor), _tensor_at(art, cur, params.tensor), params.features
            )
            rows.append({**stats, "step_a": prev.step, "step_b": cur.step})

        def red(key: str) -> float | None:
            return reduce_defined([r[key] for r in rows], params.reduce)

        cos = red("cosine")
        at = next((r for r in rows if r["cosine"] == cos), rows[-1]) if params.reduce in ("min", "max") else rows[-1]
        stats = {
            "cosine": cos,
            "cka": red("cka"),
            "samples": rows[-1]["samples"],
            "features": rows[-1]["features"],
            "nonfinite": sum(int(r["nonfinite"]) for r in rows),
            "step_a": at["step_a"],
            "step_b": at["step_b"],
            "pairs": len(rows),
        }
        evidence = {
            "steps": [r["step_b"] for r in rows],
            "cosine": [r["cosine"] for r in rows],
            "cka": [r["cka"] for r in rows],
        }
        return Measurement(statistics=stats, n=len(rows), evidence=evidence)
