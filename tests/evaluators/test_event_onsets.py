"""event_onsets skips the events' shapes when every kind is kept, and gives the onsets find_events gives."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators._lib.events import EmaRatioSpec, RobustZSpec, ThresholdSpec, event_onsets, find_events
from evaluators._lib.series import Series


@pytest.mark.parametrize("kinds", [None, ("blip",), ("spike", "divergence")])
def test_event_onsets_equal_find_events(kinds: tuple[str, ...] | None) -> None:
    rng = np.random.default_rng(len(kinds or ()))
    specs = [
        RobustZSpec(column="x", detector="robust_z", window=20, z=4, kinds=kinds),
        ThresholdSpec(column="x", detector="threshold", above=1.3, kinds=kinds),
        EmaRatioSpec(column="x", detector="ema_ratio", ratio=1.2, kinds=kinds),
    ]
    for trial in range(20):
        n = int(rng.integers(1, 2_000))
        x = np.exp(0.1 * rng.standard_t(3, n))
        x[rng.integers(0, n, max(1, n // 100))] = np.nan
        series = Series(name="x", steps=np.arange(n, dtype=np.int64) * 3 + trial, values=x)
        for spec in specs:
            want = find_events(series, spec).select(spec.kinds).onsets
            assert event_onsets(series, spec).tolist() == want.tolist()
