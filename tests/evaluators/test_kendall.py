"""Kendall's discordant pairs: the C kernel (evaluators/_lib/_kendall.c) and the numpy fallback count the
same integer as a brute-force O(n^2) count, and kendall_tau gives the same bits on either path.

The compiled kernel is optional (`pip install` without a C compiler still succeeds): here its tests skip
when it is not importable, unless REGISTRY_REQUIRE_NATIVE=1 (set by `.ci/run`), which makes that a failure.
"""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators._lib import kendall
from evaluators._lib.kendall import EXACT_TIE_SUMS, inversions, kendall_tau, tie_counts_and_inversions, tie_sizes

EXAMPLES = settings(max_examples=400, deadline=None, derandomize=True, database=None)

# Few distinct values, so that ties are common; signed zeros, the extremes of float64 and the infinities.
POOL = [-0.0, 0.0, 1.0, -1.0, 2.5, 1e-300, -1e-300, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308,
        float("inf"), float("-inf"), 3.0, 0.1 + 0.2, 0.3]


@st.composite
def series(draw: st.DrawFn) -> np.ndarray:
    values = st.one_of(st.sampled_from(POOL), st.floats(allow_nan=False, allow_subnormal=True))
    y = draw(st.lists(values, max_size=90))
    # Repeated to up to 400 values: past the kernel's insertion-sorted runs of 32, ties meet in its merges.
    y = np.resize(np.array(y, dtype=np.float64), draw(st.integers(len(y), 400))).tolist() if y else y
    shape = draw(st.sampled_from(["as drawn", "sorted", "reverse-sorted", "all equal but one"]))
    if shape == "sorted":
        y.sort()
    elif shape == "reverse-sorted":
        y.sort(reverse=True)
    elif shape == "all equal but one" and y:
        odd = draw(st.integers(0, len(y) - 1))
        y = [y[0]] * len(y)
        y[odd] = draw(values)
    return np.array(y, dtype=np.float64)


def brute_force(y: np.ndarray) -> int:
    """Pairs i < j with y[i] > y[j], one by one."""
    return int(np.triu(y[:, None] > y[None, :], k=1).sum())


def native() -> None:
    """Skip (or, under REGISTRY_REQUIRE_NATIVE=1, fail) when the compiled kernel is not importable."""
    if kendall.native_sort_count is None:
        reason = "the C extension evaluators._lib._kendall is not built (no compiler at install?)"
        if os.environ.get("REGISTRY_REQUIRE_NATIVE") == "1":
            pytest.fail(f"native kernel required (REGISTRY_REQUIRE_NATIVE=1) but {reason}")
        pytest.skip(reason)


def test_the_compiled_kernel_is_imported() -> None:
    native()
    from evaluators._lib import _kendall

    assert _kendall.__file__ is not None
    assert _kendall.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), _kendall.__file__


@EXAMPLES
@given(series())
def test_native_count_sort_and_ties_match_brute_force(y: np.ndarray) -> None:
    native()
    assert kendall.native_sort_count is not None
    out, sizes = np.full(y.size, np.nan), np.full(y.size, -1, dtype=np.int64)
    counted = kendall.native_sort_count(y, out, sizes)
    assert counted is not None
    n_d, groups = counted
    assert n_d == brute_force(y)
    assert np.array_equal(out, np.sort(y))
    # out is the stable sort bit for bit: the kernel's keys make -0.0 and 0.0 one key, and it puts their signs back
    assert out.tobytes() == np.sort(y, kind="stable").tobytes()
    assert np.array_equal(sizes[:groups], np.unique(y, return_counts=True)[1])


@EXAMPLES
@given(series())
def test_numpy_count_matches_brute_force(y: np.ndarray) -> None:
    _, dense = np.unique(y, return_inverse=True)
    assert inversions(dense) == brute_force(y)


@EXAMPLES
@given(series())
def test_both_paths_give_the_same_ties_count_and_tau(y: np.ndarray) -> None:
    native()
    got = tie_counts_and_inversions(y)
    taus = [kendall_tau(y, alternative) for alternative in ("two-sided", "increasing", "decreasing")]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kendall, "native_sort_count", None)
        want = tie_counts_and_inversions(y)
        assert [kendall_tau(y, alternative) for alternative in ("two-sided", "increasing", "decreasing")] == taus
    assert got[1] == want[1]
    assert got[0].dtype == want[0].dtype and np.array_equal(got[0], want[0])


def test_a_large_random_series_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """200,000 values, many tied: the kernel against the numpy count (itself checked against a Fenwick
    tree in test_metric_trend_compare); a reversed range has every pair discordant."""
    native()
    rng = np.random.default_rng(7)
    y = np.round(np.cumsum(rng.normal(size=200_000)), 1)
    counts, n_d = tie_counts_and_inversions(y)
    tau = kendall_tau(y)
    monkeypatch.setattr(kendall, "native_sort_count", None)
    want_counts, want_n_d = tie_counts_and_inversions(y)
    assert n_d == want_n_d and np.array_equal(counts, want_counts)
    assert kendall_tau(y) == tau
    n = 300_001
    assert tie_counts_and_inversions(np.arange(n, 0, -1, dtype=np.float64))[1] == n * (n - 1) // 2


@pytest.mark.parametrize("n", [9, 63, 64, 65, 1_000, 5_000])
def test_the_kernel_past_its_runs_and_trimmed_merges(n: int) -> None:
    """Runs of 8 by a network, merges of 64 and more trimmed by binary search, ascending and strictly
    descending series not sorted: each kind of series on both sides of those sizes, against numpy and
    brute force, with signed zeros among many ties; values and out may be one buffer."""
    native()
    assert kendall.native_sort_count is not None
    rng = np.random.default_rng(n)
    steps = np.arange(n)
    loss = np.round(2 + 8 / np.sqrt(1 + steps / 50) + rng.normal(0, 0.02, n), 6)
    zeros = rng.choice([-0.0, 0.0, 1.0, -1.0], size=n)
    ties = np.round(rng.normal(size=n), 1)
    for y in (loss, zeros, ties, np.sort(ties), np.sort(ties)[::-1], np.sort(loss), np.sort(loss)[::-1], -loss):
        y = np.ascontiguousarray(y)
        out, sizes = np.empty(n), np.empty(n, dtype=np.int64)
        counted = kendall.native_sort_count(y, out, sizes)
        assert counted is not None
        n_d, groups = counted
        assert n_d == brute_force(y)
        assert out.tobytes() == np.sort(y, kind="stable").tobytes()
        assert np.array_equal(sizes[:groups], np.unique(y, return_counts=True)[1])
        same = y.copy()
        assert kendall.native_sort_count(same, same, sizes) == counted and same.tobytes() == out.tobytes()


def test_a_nan_takes_the_numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """NaN has no order to count against: the kernel says so (None) and numpy's grouping of NaNs decides."""
    native()
    assert kendall.native_sort_count is not None
    y = np.array([3.0, np.nan, 1.0, np.nan, 2.0])
    assert kendall.native_sort_count(y, np.empty(5), np.empty(5, dtype=np.int64)) is None
    counts, n_d = tie_counts_and_inversions(y)
    monkeypatch.setattr(kendall, "native_sort_count", None)
    want_counts, want_n_d = tie_counts_and_inversions(y)
    assert n_d == want_n_d and np.array_equal(counts, want_counts)


def test_the_kernel_checks_its_buffers() -> None:
    native()
    sort_count = kendall.native_sort_count
    assert sort_count is not None
    f64, i64 = np.empty(4), np.empty(4, dtype=np.int64)
    for args in [(np.arange(4), f64, i64), (f64, np.empty(4, dtype=np.float32), i64), (f64, f64.copy(), f64.copy())]:
        with pytest.raises(TypeError, match="C-contiguous float64 values and out, and int64 sizes"):
            sort_count(*args)
    for args in [(f64, np.empty(5), i64), (f64, f64.copy(), np.empty(3, dtype=np.int64))]:
        with pytest.raises(ValueError, match="differ in length"):
            sort_count(*args)
    with pytest.raises(ValueError, match="contiguous"):
        sort_count(np.zeros(8)[::2], f64, i64)
    with pytest.raises(BufferError, match="not writable"):
        sort_count(f64, b"\0" * 32, i64)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        sort_count(f64, f64.copy())
    # kendall_tau itself takes any array: a strided view and a list give the contiguous copy's numbers.
    y = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 0.0])
    assert kendall_tau(y[::2]) == kendall_tau(y[::2].copy()) == kendall_tau([5.0, 4.0, 3.0])


@pytest.mark.parametrize(("required", "expected"), [("0", "SKIPPED [1]"), ("1", "Failed: native kernel required")])
def test_without_the_kernel_its_test_skips_unless_required(required: str, expected: str) -> None:
    """`.ci/run` sets REGISTRY_REQUIRE_NATIVE=1: there an install that silently fell back to numpy fails."""
    blocked = (  # the extension made unimportable, as on a machine without a compiler
        "import sys, pytest; sys.modules['evaluators._lib._kendall'] = None; "
        f"sys.exit(pytest.main(['-q', '-rsf', '-p', 'no:cacheprovider', '{__file__}::test_the_compiled_kernel_is_imported']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocked],
        capture_output=True,
        text=True,
        env={**os.environ, "REGISTRY_REQUIRE_NATIVE": required},
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert expected in proc.stdout, proc.stdout


@pytest.mark.parametrize("n", [2, 1_000, 20_000, EXACT_TIE_SUMS])
def test_tie_sums_without_single_values_are_the_same_bits(n: int) -> None:
    rng = np.random.default_rng(n)
    for y in (np.round(rng.normal(size=n), 2), rng.normal(size=n), np.zeros(n), np.arange(n) // 3):
        counts = np.unique(y, return_counts=True)[1]
        full, kept = counts.astype(np.float64), tie_sizes(counts, n)
        assert float((kept * (kept - 1) / 2).sum()) == float((full * (full - 1) / 2).sum())
        assert float((kept * (kept - 1) * (2 * kept + 5)).sum()) == float((full * (full - 1) * (2 * full + 5)).sum())
