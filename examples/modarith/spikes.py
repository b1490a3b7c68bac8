"""Loss-spike onsets on log(loss), the rule pass 1 uses to choose the steps pass 2 checkpoints.

    python -m examples.modarith.spikes RUN...            # onsets of finished runs (metrics.csv)

Rule.  y_t = ln(max(loss_t, 1e-38)) (a loss of exactly 0 would be -inf).  For row t with `window`
earlier rows, m = median(y_{t-window} .. y_{t-1}) and MAD = median |y - m| over the same rows.  Row t
is *flagged* when

    (y_t - m) / (1.4826 * MAD) > z    and    y_t - m > min_log_rise

i.e. the registry's `loss.spikes` robust-z test, with the ratio test x_t / median > min_ratio
replaced by a difference of logs (a ratio of log values is meaningless when they are negative).
Defaults: window 50, z 8, min_log_rise ln(10) (the loss at least 10x the window's median).  A MAD of 0
counts as z = +inf when y_t > m.  Non-finite losses are never flagged and a window holding one is
skipped.  An *event* is a maximal run of consecutive flagged rows; its *onset* is the first row of
the run, i.e. the first model (parameters after `onset` updates) whose training loss is out of line.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys

WINDOW, Z, MIN_LOG_RISE = 50, 8.0, math.log(10.0)
TINY = 1e-38


def log_values(losses: list[float]) -> list[float]:
    return [math.log(max(x, TINY)) if math.isfinite(x) else math.nan for x in losses]


def flagged(losses: list[float], window: int = WINDOW, z: float = Z, min_log_rise: float = MIN_LOG_RISE) -> list[int]:
    y = log_values(losses)
    out = []
    for t in range(window, len(y)):
        prev = y[t - window : t]
        if not math.isfinite(y[t]) or not all(math.isfinite(v) for v in prev):
            continue
        m = statistics.median(prev)
        mad = statistics.median(abs(v - m) for v in prev)
        d = y[t] - m
        zt = d / (1.4826 * mad) if mad > 0 else (math.inf if d > 0 else 0.0)
        if zt > z and d > min_log_rise:
            out.append(t)
    return out


def onsets(losses: list[float], window: int = WINDOW, z: float = Z, min_log_rise: float = MIN_LOG_RISE) -> list[int]:
    """Row indices of event onsets (first row of each maximal run of flagged rows)."""
    rows = flagged(losses, window, z, min_log_rise)
    return [r for i, r in enumerate(rows) if i == 0 or rows[i - 1] != r - 1]


def describe(losses: list[float], onset: int, window: int = WINDOW, horizon: int = 5) -> dict:
    """Median loss of the window before an onset and the peak within `horizon` rows of it."""
    prev = [x for x in losses[max(0, onset - window) : onset] if math.isfinite(x)]
    med = statistics.median(prev) if prev else math.nan
    seg = [(losses[t], t) for t in range(onset, min(len(losses), onset + horizon + 1)) if math.isfinite(losses[t])]
    peak, at = max(seg) if seg else (math.nan, onset)
    return {"onset": onset, "median_before": med, "peak": peak, "peak_step": at, "ratio": peak / med if med > 0 else math.inf}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--window", type=int, default=WINDOW)
    p.add_argument("--z", type=float, default=Z)
    p.add_argument("--min-log-rise", type=float, default=MIN_LOG_RISE)
    a = p.parse_args(argv)
    for run in a.runs:
        with open(os.path.join(run, "metrics.csv"), newline="") as fh:
            rows = list(csv.DictReader(fh))
        steps = [int(r["step"]) for r in rows]
        loss = [float(r["loss"]) for r in rows]
        found = [describe(loss, t, a.window) for t in onsets(loss, a.window, a.z, a.min_log_rise)]
        print(f"{os.path.basename(os.path.normpath(run))}: {len(rows)} rows, {len(found)} onsets")
        for e in found:
            print(
                f"  step {steps[e['onset']]:6d}  median before {e['median_before']:.3g}  peak {e['peak']:.3g} "
                f"at {steps[e['peak_step']]}  x{e['ratio']:.3g}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
