"""The event engine shared by every level: event specs (a series + a detector) and events.

An *event* is a maximal run of consecutive rows flagged by a detector (evaluators/_lib/detectors.py) on a
step-indexed series -- a loss column, a grad-norm column, an activation statistic logged per step.
Each event has

- `onset`, `end`: the steps of its first and last flagged row; `duration`: its number of rows;
- `peak`: the step of its most extreme row (largest value; smallest for `threshold` with `below`);
- `peak_ratio`: x_peak / pre-event median (null when either is non-finite or the median is <= 0);
- `recovery_steps`: steps from the onset to the first row after the peak that is finite and back
  within `tolerance` x |pre-event median| of the pre-event median (for upward events: at most
  median + tolerance*|median|; for downward ones: at least median - tolerance*|median|); null if
  the series never gets back. The pre-event median is that of the finite values among the
  `baseline` rows before the onset (default: the detector's window for robust_z, else 50 rows);
  an event at the very first row has none, and counts as never recovered;
- `kind`: `divergence` if a row of the event is non-finite, or it never recovers, or it recovers
  only after more than `recover_within` steps; otherwise `blip` if the row right after the onset
  is already back, else `spike`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from registry import Params

from . import detectors
from .excursions import first_recovery, peaks, pre_event_median
from .robust_z import runs_of_rows
from .series import Series, SeriesSpec
from .transform import log_base

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["blip", "spike", "divergence"]
KINDS: tuple[str, ...] = ("blip", "spike", "divergence")

# Default `baseline` rows for detectors without a window of their own.
DEFAULT_BASELINE = 50
# Events listed in a verdict's evidence.
EVIDENCE_EVENTS = 100


class _EventSpecBase(SeriesSpec):
    kinds: tuple[Kind, ...] | None = Field(None, description="Keep only events of these kinds (default: all).")
    recover_within: int = Field(
        100, ge=1, description="Steps from onset within which an event must recover to be a spike, not a divergence."
    )
    tolerance: float = Field(
        0.05, ge=0, description="Recovered = back within tolerance × |pre-event median| of the pre-event median."
    )
    baseline: int | None = Field(
        None, ge=1, description="Rows before the onset whose median is the pre-event level (default: window, else 50)."
    )

    def baseline_rows(self) -> int:
        return self.baseline or DEFAULT_BASELINE

    def detect(self, x: np.ndarray) -> detectors.Detection:
        raise NotImplementedError


class RobustZSpec(_EventSpecBase):
    detector: Literal["robust_z"] = Field(description="Robust z-score against the preceding rows (the loss.spikes rule).")
    window: int = Field(50, ge=3, description="Earlier rows a row is compared with.")
    z: float = Field(8.0, gt=0, description="Robust z-score a flagged row must exceed.")
    min_ratio: float = Field(1.15, gt=0, description="x_t / median of the window a flagged row must exceed.")

    def baseline_rows(self) -> int:
        return self.baseline or self.window

    def detect(self, x: np.ndarray) -> detectors.Detection:
        return detectors.robust_z(x, self.window, self.z, self.min_ratio, log_base(self.transform))


class EmaRatioSpec(_EventSpecBase):
    detector: Literal["ema_ratio"] = Field(description="x_t / EMA_{t-1} above a ratio.")
    ratio: float = Field(gt=0, description="x_t / EMA_{t-1} a flagged row must exceed.")
    alpha: float = Field(0.1, gt=0, le=1, description="EMA weight of the newest row; EMA_0 = x_0.")
    warmup: int = Field(0, ge=0, description="Rows before this index are never flagged.")

    def detect(self, x: np.ndarray) -> detectors.Detection:
        return detectors.ema_ratio(x, self.alpha, self.ratio, self.warmup, log_base(self.transform))


class ThresholdSpec(_EventSpecBase):
    detector: Literal["threshold"] = Field(description="x_t above (or below) a fixed value.")
    above: float | None = Field(None, description="Flag rows with x_t > above.")
    below: float | None = Field(None, description="Flag rows with x_t < below.")

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdSpec:
        if (self.above is None) == (self.below is None):
            raise ValueError("detector threshold needs exactly one of `above` or `below`")
        return self

    def detect(self, x: np.ndarray) -> detectors.Detection:
        return detectors.threshold(x, self.above, self.below)


class NonfiniteSpec(_EventSpecBase):
    detector: Literal["nonfinite"] = Field(description="NaN or ±inf rows (always divergences).")

    def detect(self, x: np.ndarray) -> detectors.Detection:
        return detectors.nonfinite(x)


AnyEventSpec = RobustZSpec | EmaRatioSpec | ThresholdSpec | NonfiniteSpec
EventSpec = Annotated[AnyEventSpec, Field(discriminator="detector")]
DETECTORS = ("robust_z", "ema_ratio", "threshold", "nonfinite")


class EventParams(Params):
    """Base of params that hold event specs (`EventSpec` fields).

    pydantic reports an error inside a discriminated union under the tag it chose (`target.robust_z.z`);
    this puts it back where the claim wrote it (`target.z`), so `registry validate` points at the
    offending key, and says which detectors exist when `detector` is missing or unknown.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _errors_at_spec_keys(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            raise _relocated(exc, data) from None


def _relocated(exc: ValidationError, data: Any) -> ValidationError:
    known = ", ".join(DETECTORS)
    details: list[InitErrorDetails] = []
    for err in exc.errors(include_url=False):
        loc: list[str | int] = []
        node = data
        for part in err["loc"]:
            if isinstance(node, Mapping) and isinstance(part, str) and part not in node and node.get("detector") == part:
                continue  # the union's tag, not a key of the claim
            loc.append(part)
            if isinstance(node, Mapping):
                node = node.get(part)
            elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                node = None
        kind, msg = err["type"], str(err["msg"])
        if kind == "union_tag_invalid":
            loc.append("detector")
            kind, msg = "unknown_detector", f"unknown detector {node.get('detector')!r}; use one of: {known}"
        elif kind == "union_tag_not_found":
            loc.append("detector")
            kind, msg = "missing_detector", f"required key is missing: detector (one of: {known})"
        template = msg.replace("{", "{{").replace("}", "}}")
        details.append({"type": PydanticCustomError(kind, template), "loc": tuple(loc), "input": err.get("input")})
    return ValidationError.from_exception_data(exc.title, details)


@dataclass(frozen=True)
class Events:
    """The events of one series, as parallel arrays (one entry per event, in onset order)."""

    steps: np.ndarray  # the series' steps (to turn rows into steps)
    onset_row: np.ndarray
    end_row: np.ndarray
    peak_row: np.ndarray
    peak_ratio: np.ndarray  # NaN where undefined
    baseline: np.ndarray  # pre-event median, NaN where undefined
    recovery_row: np.ndarray  # -1 where never recovered
    nonfinite: np.ndarray  # bool: a row of the event is NaN/inf
    kind: np.ndarray  # int8 index into KINDS
    examined: int  # rows the detector could flag

    def __len__(self) -> int:
        return int(self.onset_row.size)

    @property
    def onsets(self) -> np.ndarray:
        onsets: np.ndarray = self.steps[self.onset_row]
        return onsets

    @property
    def recovery_steps(self) -> np.ndarray:
        """Steps from onset to recovery; -1 where never recovered."""
        import numpy as np

        rec = self.recovery_row >= 0
        out = np.full(self.onset_row.size, -1, dtype=np.int64)
        out[rec] = self.steps[self.recovery_row[rec]] - self.steps[self.onset_row[rec]]
        return out

    def select(self, kinds: tuple[str, ...] | None) -> Events:
        import numpy as np

        if kinds is None:
            return self
        keep = np.isin(self.kind, [KINDS.index(k) for k in kinds])
        return Events(
            steps=self.steps,
            onset_row=self.onset_row[keep],
            end_row=self.end_row[keep],
            peak_row=self.peak_row[keep],
            peak_ratio=self.peak_ratio[keep],
            baseline=self.baseline[keep],
            recovery_row=self.recovery_row[keep],
            nonfinite=self.nonfinite[keep],
            kind=self.kind[keep],
            examined=self.examined,
        )

    def counts(self) -> dict[str, int]:
        import numpy as np

        per = np.bincount(self.kind.astype(np.int64), minlength=len(KINDS))
        return {"blips": int(per[0]), "spikes": int(per[1]), "divergences": int(per[2])}

    def records(self, limit: int = EVIDENCE_EVENTS) -> list[dict[str, Any]]:
        """The first `limit` events as plain dicts, for a verdict's evidence."""
        import math

        out = []
        rec = self.recovery_steps
        for i in range(min(limit, len(self))):
            ratio = float(self.peak_ratio[i])
            out.append(
                {
                    "onset": int(self.steps[self.onset_row[i]]),
                    "peak": int(self.steps[self.peak_row[i]]),
                    "peak_ratio": ratio if math.isfinite(ratio) else None,
                    "duration": int(self.end_row[i] - self.onset_row[i] + 1),
                    "recovery_steps": int(rec[i]) if rec[i] >= 0 else None,
                    "kind": KINDS[int(self.kind[i])],
                }
            )
        return out


def find_events(series: Series, spec: AnyEventSpec) -> Events:
    """Every event of `series` under `spec` (all kinds; `Events.select(spec.kinds)` filters)."""
    return events_from(series.steps, series.values, detect(series.values, spec), spec)


def event_onsets(series: Series, spec: AnyEventSpec) -> np.ndarray:
    """The onsets of the events of `series` of the kinds `spec` keeps: `find_events(...).select(spec.kinds).onsets`.

    With every kind kept the events' shapes (pre-event medians, peaks, recoveries) are not needed, so
    they are not computed: a noisy signal column can have tens of thousands of events."""
    if spec.kinds is not None:
        return find_events(series, spec).select(spec.kinds).onsets
    first, _ = runs_of_rows(detect(series.values, spec).rows)
    onsets: np.ndarray = series.steps[first]
    return onsets


# Detections made in this process, by (array, detector and its params): loss.spikes and
# events.precedes often flag the same loss column with the same rule, and a column is one array for
# a whole invocation (MetricsTable caches it). Entries hold only a weak reference to the array, are
# checked against it, and are dropped once it is gone.
_DETECTIONS: dict[tuple[Any, ...], tuple[Any, detectors.Detection]] = {}


def detect(x: np.ndarray, spec: AnyEventSpec) -> detectors.Detection:
    """`spec.detect(x)`, computed once per array (or view of one) and detector parameters."""
    import weakref

    base = x.base if isinstance(x.base, type(x)) else x
    try:
        ref = weakref.ref(base)
    except TypeError:
        return spec.detect(x)
    own = set(type(spec).model_fields) - set(_EventSpecBase.model_fields)
    key = (
        id(base),
        x.__array_interface__["data"][0],
        x.shape,
        x.strides,
        tuple(sorted((k, getattr(spec, k)) for k in own)),
    )
    hit = _DETECTIONS.get(key)
    if hit is not None and hit[0]() is base:
        return hit[1]
    detection = spec.detect(x)
    for stale in [k for k, (r, _) in _DETECTIONS.items() if r() is None]:
        del _DETECTIONS[stale]
    _DETECTIONS[key] = (ref, detection)
    return detection


def events_from(steps: np.ndarray, x: np.ndarray, det: detectors.Detection, spec: AnyEventSpec) -> Events:
    import numpy as np

    first, last = runs_of_rows(det.rows)
    e = first.size
    baseline = pre_event_median(x, first, spec.baseline_rows())
    peak = peaks(x, det.rows, first, last, det.direction)
    nonfinite_rows = ~np.isfinite(x[det.rows])
    if e:
        seg = np.searchsorted(det.rows, first)
        nonfinite = np.logical_or.reduceat(nonfinite_rows, seg) if nonfinite_rows.size else np.zeros(e, bool)
    else:
        nonfinite = np.zeros(0, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_ratio = np.where(baseline > 0, x[peak] / baseline, np.nan)
    peak_ratio[~np.isfinite(peak_ratio)] = np.nan
    limit = baseline + det.direction * spec.tolerance * np.abs(baseline)
    recovery = first_recovery(x, peak + 1, limit, det.direction)
    rec_steps = np.where(recovery >= 0, steps[np.maximum(recovery, 0)] - steps[first], -1)
    kind = np.full(e, KINDS.index("divergence"), dtype=np.int8)
    recovered = (recovery >= 0) & ~nonfinite
    kind[recovered & (rec_steps <= spec.recover_within)] = KINDS.index("spike")
    kind[recovered & (recovery == first + 1)] = KINDS.index("blip")
    return Events(
        steps=steps,
        onset_row=first,
        end_row=last,
        peak_row=peak,
        peak_ratio=peak_ratio,
        baseline=baseline,
        recovery_row=recovery,
        nonfinite=nonfinite,
        kind=kind,
        examined=det.examined,
    )
