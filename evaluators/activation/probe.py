"""activation.probe — a linear probe: can a label stored in the artifact be read linearly from a tensor?

Method: samples are the tensor's positions (every axis but the `features` axes, default the last,
flattened), labels a tensor of those positions' integer labels (default `probe.targets`, the next
token). Samples with a non-finite feature are dropped (counted in `nonfinite`); when more than
`max_samples` remain, a seeded random subset is used. A seeded random split holds out
`test_fraction`; features are standardised on the training part (scikit-learn `StandardScaler`)
and a multinomial logistic regression (`LogisticRegression`, lbfgs, L2 with `C`, `max_iter`,
`random_state=seed`) is fitted. scikit-learn is the optional extra `probe`, imported only here.

Statistics: `accuracy` on the held-out part; `chance`, the held-out accuracy of always answering
the training part's most frequent label; `p_value`, a permutation test: the probe is refitted on
`permutations` seeded shuffles of the training labels and p = (1 + #{shuffled accuracy ≥
accuracy}) / (1 + permutations); `train_accuracy`; `classes` (distinct training labels);
`converged` (the unshuffled fit converged within `max_iter`). `n`: held-out samples.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.checkpoints import read_rows, trailing_width
from .._lib.stats import count, fraction, p_value

if TYPE_CHECKING:
    import numpy as np

    from registry import Run, TensorStore


class ProbeUnavailable(RuntimeError):
    """scikit-learn is missing: the prediction is an `error`, naming the extra to install."""


class ProbeParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact.")
    tensor: str = Field(description="Features: a tensor [..., d] (name or alias), e.g. blocks.1.hook_resid_post.")
    labels: str = Field("probe.targets", description="Integer labels, one per sample (the tensor's non-feature axes).")
    features: list[str] = Field([], description="Named trailing axes that are features (default: the last axis).")
    step: int | Literal["first", "last"] = Field("last", description="Folder of checkpoints: which one.")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="Share of samples held out.")
    seed: int = Field(0, description="Seed of the split, the subsample, the shuffles and the solver.")
    permutations: int = Field(100, ge=0, le=10000, description="Label shuffles for the p-value (0: no p-value).")
    C: float = Field(1.0, gt=0, description="Inverse L2 regularisation strength.")
    max_iter: int = Field(200, ge=1, description="lbfgs iterations per fit.")
    max_samples: int = Field(5000, ge=10, description="At most this many samples (a seeded subset beyond).")


def _sklearn() -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ProbeUnavailable(
            "activation.probe needs scikit-learn, which is not installed: pip install 'claims-registry[probe]'"
        ) from None
    return LogisticRegression, StandardScaler, threadpool_limits


def _gather_rows(t: Any, rows: Any, width: int) -> Any:
    """Rows `rows` (sorted) of a tensor seen as [samples, width], read chunk by chunk."""
    import numpy as np

    out = np.empty((rows.size, width))
    chunk = max(1, (1 << 21) // max(width, 1))
    total = t.size // width if width else 0
    done = 0
    for r0 in range(0, total, chunk):
        r1 = min(total, r0 + chunk)
        hi = int(np.searchsorted(rows, r1))
        if hi == done:
            continue
        block = read_rows(t, r0, r1, width, np.float64)
        out[done:hi] = block[rows[done:hi] - r0]
        done = hi
    return out


class Probe(Evaluator[ProbeParams]):
    """Linear probe from a tensor to labels in the artifact: held-out `accuracy`, `chance` (the
    majority-label rate) and a permutation `p_value` over seeded label shuffles.

    Logistic regression (scikit-learn, optional extra `probe`) on standardised features with a
    seeded held-out split; see the module docstring for the method. `n`: held-out samples.
    """

    name = "activation.probe"
    levels = frozenset({"activation"})
    version = "1"
    Params = ProbeParams
    statistics = (
        fraction("accuracy", "Held-out accuracy of the probe.", rate=True),
        fraction("chance", "Held-out accuracy of always answering the training part's most frequent label."),
        p_value("(1 + #{accuracy on shuffled labels >= accuracy}) / (1 + permutations); null with 0 permutations."),
        fraction("train_accuracy", "Accuracy on the training part."),
        count("classes", "Distinct labels in the training part."),
        Stat("converged", "Whether the unshuffled fit converged within max_iter.", type=bool),
        count("nonfinite", "Samples dropped for a non-finite feature."),
        Stat("step", "Step of the checkpoint probed (null for a single file without a step).", type=int),
    )

    def evaluate(self, params: ProbeParams, run: Run) -> Measurement:
        import numpy as np

        sk = _sklearn()
        art = run.tensors(params.artifact)
        ckpt = art.pick(params.step)
        rng = np.random.default_rng(params.seed)  # the subsample, then the split
        x, y, nonfinite = _samples(art.store(ckpt), params, rng)
        train, test = _split(y, rng, params.test_fraction)
        classes, counts = np.unique(y[train], return_counts=True)
        if classes.size < 2:
            raise CannotMeasure(f"the training part has a single label ({classes[0]}): nothing to probe")
        majority = classes[np.argmax(counts)]
        scaler = sk[1]().fit(x[train])
        fit = _Fit(sk, params, scaler.transform(x[train]), scaler.transform(x[test]))
        model = fit(y[train])
        accuracy = fit.test_accuracy(model, y[test])
        null = _null_accuracies(fit, y[train], y[test], params)
        stats = {
            "accuracy": accuracy,
            "chance": float(np.mean(y[test] == majority)),
            "p_value": (1 + sum(a >= accuracy for a in null)) / (1 + params.permutations) if params.permutations else None,
            "train_accuracy": float(np.mean(model.predict(fit.xtr) == y[train])),
            "classes": int(classes.size),
            "converged": bool(np.all(np.asarray(model.n_iter_) < params.max_iter)),
            "nonfinite": nonfinite,
            "step": ckpt.step,
        }
        evidence = {
            "train": int(train.size),
            "test": int(test.size),
            "majority_label": int(majority),
            "null_accuracy_mean": float(np.mean(null)) if null else None,
            "null_accuracy_max": float(np.max(null)) if null else None,
        }
        return Measurement(statistics=stats, n=int(test.size), evidence=evidence)


def _samples(store: TensorStore, params: ProbeParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Features and integer labels of the (seeded subset of) samples with finite features, and how many were not."""
    import numpy as np

    t = store.tensor(params.tensor)
    lab = store.tensor(params.labels)
    k = trailing_width(t, params.features, "use as features")
    if t.ndim <= k - 1 or t.ndim < 1:
        raise CannotMeasure(f"{t.describe()} has shape {list(t.shape)}; a probe needs [samples..., features]")
    sample_shape = t.shape[: t.ndim - k]
    if lab.shape != sample_shape:
        raise CannotMeasure(
            f"shape mismatch: labels {params.labels!r} are {list(lab.shape)}, the samples of "
            f"{params.tensor!r} are {list(sample_shape)}"
        )
    y = lab.load().reshape(-1)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise CannotMeasure(f"{lab.describe()} holds non-integer values; labels must be integers")
    y = y.astype(np.int64)
    # Choose the samples first (seeded), then stream the tensor and keep only their rows.
    chosen = np.arange(y.size)
    if y.size > params.max_samples:
        chosen = np.sort(rng.choice(y.size, params.max_samples, replace=False))
    width = t.size // y.size if y.size else 0
    x = _gather_rows(t, chosen, width)
    y = y[chosen]
    ok = np.isfinite(x).all(axis=1)
    return x[ok], y[ok], int((~ok).sum())


def _split(y: np.ndarray, rng: np.random.Generator, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: a seeded permutation, the first `test_fraction` held out."""
    order = rng.permutation(y.size)
    n_test = int(round(y.size * test_fraction))
    if n_test < 1 or order.size - n_test < 2:
        raise CannotMeasure(f"{y.size} usable samples: too few to hold out {test_fraction:.0%}")
    return order[n_test:], order[:n_test]


class _Fit:
    """Fits the logistic regression on the standardised training part, with given labels."""

    def __init__(self, sk: Any, params: ProbeParams, xtr: np.ndarray, xte: np.ndarray) -> None:
        self.LogisticRegression, _, self.threadpool_limits = sk
        self.params = params
        self.xtr, self.xte = xtr, xte

    def __call__(self, labels: np.ndarray) -> Any:
        p = self.params
        model = self.LogisticRegression(C=p.C, max_iter=p.max_iter, random_state=p.seed)
        # One thread: on small problems BLAS/OpenMP threads cost 10-20x more than they save.
        with warnings.catch_warnings(), self.threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            return model.fit(self.xtr, labels)

    def test_accuracy(self, model: Any, y_test: np.ndarray) -> float:
        import numpy as np

        return float(np.mean(model.predict(self.xte) == y_test))


def _null_accuracies(fit: _Fit, y_train: np.ndarray, y_test: np.ndarray, params: ProbeParams) -> list[float]:
    """Held-out accuracies of probes fitted on `permutations` seeded shuffles of the training labels."""
    import numpy as np

    prng = np.random.default_rng([params.seed, 1])
    return [fit.test_accuracy(fit(prng.permutation(y_train)), y_test) for _ in range(params.permutations)]
