"""Count loss spikes in run folders with the robust-z detector.

    python -m examples.tinygpt.spikes runs/tinygpt-*            # table of all runs
    python -m examples.tinygpt.spikes --column grad_norm RUN...

Detector (the one in /work/shared/notes and the example claims): for row t with at least
``window`` earlier rows, take the median m and MAD of the ``window`` previous values
(rows t-window .. t-1); row t is flagged when (x_t - m) / (1.4826 * MAD) > z and x_t / m > ratio.
Defaults: window 50, z 8, ratio 1.15.  An *event* is a maximal run of consecutive flagged rows;
its step is the first flagged row.  Non-finite values are never flagged (a NaN ends the run anyway).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys


def read_metrics(path: str) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows] for k in rows[0]} if rows else {}


def flagged(values: list[float], window: int = 50, z: float = 8.0, ratio: float = 1.15) -> list[int]:
    out = []
    for t in range(window, len(values)):
        prev = values[t - window : t]
        x = values[t]
        if not math.isfinite(x) or not all(math.isfinite(v) for v in prev):
            continue
        m = statistics.median(prev)
        mad = statistics.median(abs(v - m) for v in prev)
        if m <= 0:
            continue
        zt = (x - m) / (1.4826 * mad) if mad > 0 else (math.inf if x > m else 0.0)
        if zt > z and x / m > ratio:
            out.append(t)
    return out


def events(rows: list[int]) -> list[int]:
    return [r for i, r in enumerate(rows) if i == 0 or rows[i - 1] != r - 1]


def summary(run: str, column: str = "loss", window: int = 50, z: float = 8.0, ratio: float = 1.15) -> dict:
    m = read_metrics(os.path.join(run, "metrics.csv"))
    steps = [int(s) for s in m["step"]]
    f = flagged(m[column], window, z, ratio)
    ev = events(f)
    loss = m["loss"]
    finite = [v for v in loss if math.isfinite(v)]
    tail = finite[-50:]
    attn = [v for v in m.get("attn_logit_max", []) if math.isfinite(v)]
    return {
        "run": os.path.basename(os.path.normpath(run)),
        "rows": len(steps),
        "flagged_rows": len(f),
        "events": len(ev),
        "event_steps": [steps[i] for i in ev],
        "final_loss": sum(tail) / len(tail) if tail else float("nan"),
        "min_loss": min(finite) if finite else float("nan"),
        "max_attn_logit": max(attn) if attn else float("nan"),
        "final_attn_logit": attn[-1] if attn else float("nan"),
        "nonfinite_loss": len(loss) - len(finite),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--column", default="loss")
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--z", type=float, default=8.0)
    p.add_argument("--ratio", type=float, default=1.15)
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    a = p.parse_args(argv)
    if a.markdown:
        print(
            "| run | rows | flagged rows | events (first step of each) | final loss (mean of last 50) "
            "| min loss | max attn logit |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in a.runs:
            if not os.path.exists(os.path.join(r, "metrics.csv")):
                continue
            s = summary(r, a.column, a.window, a.z, a.ratio)
            ev = f"{s['events']}" + (f" ({', '.join(map(str, s['event_steps']))})" if s["events"] else "")
            print(
                f"| {s['run']} | {s['rows']} | {s['flagged_rows']} | {ev} | {s['final_loss']:.3f} "
                f"| {s['min_loss']:.3f} | {s['max_attn_logit']:.4g} |"
            )
        return 0
    print(f"{'run':40s} {'rows':>5s} {'flag':>4s} {'ev':>3s} {'final':>7s} {'min':>7s} {'maxattn':>9s}  event steps")
    for r in a.runs:
        if not os.path.exists(os.path.join(r, "metrics.csv")):
            continue
        s = summary(r, a.column, a.window, a.z, a.ratio)
        print(
            f"{s['run']:40s} {s['rows']:5d} {s['flagged_rows']:4d} {s['events']:3d} {s['final_loss']:7.4f} "
            f"{s['min_loss']:7.4f} {s['max_attn_logit']:9.4g}  {s['event_steps'][:20]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
