"""_lib.reduce.median is numpy.median over the last axis, bit for bit (signed zeros, NaN, ±inf, ints)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators._lib.reduce import median


def bits(v: object) -> tuple[str, tuple[int, ...], bytes]:
    a = np.asarray(v)
    return a.dtype.str, a.shape, a.tobytes()


@pytest.mark.parametrize("kind", ["normal", "ties_and_signed_zeros", "ints", "nonfinite"])
def test_median_equals_numpy_median(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    for _ in range(500):
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 60)))
        if kind == "normal":
            a = rng.normal(size=shape)
        elif kind == "ties_and_signed_zeros":
            a = np.round(rng.normal(size=shape), 1)
            a[a == 0] = -0.0
        elif kind == "ints":
            a = rng.integers(-5, 5, size=shape)
        else:
            a = rng.normal(size=shape)
            for value, p in ((np.nan, 0.1), (np.inf, 0.05), (-np.inf, 0.05)):
                a[rng.random(shape) < p] = value
        assert bits(median(a)) == bits(np.median(a, axis=-1))
        assert bits(median(a[0])) == bits(np.median(a[0]))


def test_median_of_no_rows_and_of_an_empty_axis() -> None:
    assert median(np.empty((0, 5))).shape == (0,)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        assert np.isnan(median(np.empty(0)))
