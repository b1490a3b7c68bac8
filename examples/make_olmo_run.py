"""Build runs/olmo-mup-coord-check/ from the public OLMo coordinate-check log (reproducible, no network).

    python examples/make_olmo_run.py ../shared/data/public-runs [--out runs/olmo-mup-coord-check]

Source: `olmo_mup_coord_check_sp_vs_mup.csv` (allenai/OLMo @ f70ffa47, mup_coord_checks/
{sp,mup}_olmo_adamw_coord.csv): for each parametrisation (sp, mup), width (128 ... 8192), module and
training step t (1 ... 5), `l1`, the mean absolute value of the module's output — a statistic that
the coordinate check computed from activations, not activations themselves.

Layout written (an activation artifact per parametrisation, one file per width):

    sp/width_000128.npz ... sp/width_008192.npz      one tensor per module, [repeat, t] = [3, 5], float64
    mup/width_000128.npz ...

The series these folders form is indexed by WIDTH (the manifest's `step_pattern` takes the number
from `width_NNNNNN.npz`), so `activation.stat` over a folder gives a statistic per width and its
`growth_exponent` is the log-log slope against width. Module names are OLMo's; OLMo logs two modules
called `transformer.blocks.0.dropout` (after attention, then after the MLP): they are stored as
`...dropout#1` and `...dropout#2` in that order. The log repeats the check three times per width
(the coordinate check's repetitions — seeds in the `mup` package's `get_coord_data` — without saying
which seed): axis `repeat`. The model's output logits are `:out[0]` (alias
`output_logits`). Values are copied exactly (float64); files are byte-identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

SOURCE = "olmo_mup_coord_check_sp_vs_mup.csv"
RUN_ID = "olmo-mup-coord-check"

RUN_YAML = """\
id: olmo-mup-coord-check
description: >
  OLMo coordinate check, standard parametrisation (sp) vs muP (mup), AdamW at lr 1e-3, widths 128 to
  8192: for every module, the mean absolute value (l1) of its output at training steps t = 1..5, as
  logged by allenai/OLMo @ f70ffa47 (mup_coord_checks/{sp,mup}_olmo_adamw_coord.csv, via
  ../shared/data/public-runs/olmo_mup_coord_check_sp_vs_mup.csv). These are activation STATISTICS, not
  raw activations. One artifact per parametrisation, a folder with one .npz per width; the series a
  folder forms is indexed by width, not by training step (step_pattern takes the width from the file
  name). Each tensor is one module's l1 as [repeat, t] = [3, 5]: the log holds three repetitions of
  the check per width (seeds, unnamed in the log). Built by examples/make_olmo_run.py.
tags: [olmo, coord-check, width-series]
config:
  source: allenai/OLMo@f70ffa47 mup_coord_checks/{sp,mup}_olmo_adamw_coord.csv
  optimizer: adamw
  lr: 0.001
  widths: [128, 256, 512, 1024, 2048, 4096, 8192]
  t: [1, 2, 3, 4, 5]
  repeats: 3
  statistic: l1 = mean absolute activation
artifacts:
  sp:
    path: sp
    kind: activations
    step_pattern: 'width_(?P<step>\\d+)\\.npz'
    aliases: {output_logits: ':out[0]'}
    axes: {'*': [repeat, t]}
  mup:
    path: mup
    kind: activations
    step_pattern: 'width_(?P<step>\\d+)\\.npz'
    aliases: {output_logits: ':out[0]'}
    axes: {'*': [repeat, t]}
"""


def read_source(path: Path) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """(parametrisation, width) -> module -> l1 as [repeat, t].

    The log holds, per (parametrisation, width), three consecutive blocks of t = 1..5 (the coordinate
    check's repetitions; a block starts where t falls back to 1); within one (repeat, t) the modules
    come in forward order, and a name seen twice gets `#1` / `#2`.
    """
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    series: dict[tuple[str, int], list[list[tuple[str, float]]]] = defaultdict(list)
    last_t: dict[tuple[str, int], int] = {}
    for r in rows:
        key, t = (r["parametrization"], int(r["width"])), int(r["t"])
        blocks = series[key]
        if not blocks or t != last_t[key]:
            if t == 1:
                blocks.append([])  # a new repetition
            elif t != last_t[key] + 1:
                raise SystemExit(f"{path}: {key}: step {t} follows step {last_t[key]}")
            blocks[-1].append(("\0t", float(t)))
            last_t[key] = t
        blocks[-1].append((r["module"], float(r["l1"])))
    out: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    layout: list[str] | None = None
    for key, blocks in sorted(series.items()):
        values: dict[str, list[list[float]]] = defaultdict(list)
        for block in blocks:
            steps = [i for i, (m, _) in enumerate(block) if m == "\0t"] + [len(block)]
            if [int(block[i][1]) for i in steps[:-1]] != [1, 2, 3, 4, 5]:
                raise SystemExit(f"{path}: {key}: a repetition does not hold t = 1..5")
            per_t = []
            for a, b in zip(steps, steps[1:], strict=False):
                items = block[a + 1 : b]
                total: dict[str, int] = defaultdict(int)
                for m, _ in items:
                    total[m] += 1
                seen: dict[str, int] = defaultdict(int)
                named = []
                for m, v in items:
                    seen[m] += 1
                    named.append((f"{m}#{seen[m]}" if total[m] > 1 else m, v))
                if layout is None:
                    layout = [n for n, _ in named]
                elif [n for n, _ in named] != layout:
                    raise SystemExit(f"{path}: {key}: the modules differ from the first group")
                per_t.append(dict(named))
            for name in layout or []:
                values[name].append([d[name] for d in per_t])
        out[key] = {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}
    return out


def npz_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz with fixed zip timestamps, so the file is byte-identical on every run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(tensors):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(tensors[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("public_runs", type=Path, help="folder holding " + SOURCE)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / RUN_ID)
    a = ap.parse_args(argv)
    data = read_source(a.public_runs / SOURCE)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "run.yaml").write_text(RUN_YAML, encoding="utf-8")
    for (param, width), modules in sorted(data.items()):
        folder = a.out / param
        folder.mkdir(exist_ok=True)
        (folder / f"width_{width:06d}.npz").write_bytes(npz_bytes(modules))
    print(f"wrote {a.out} ({len(data)} files)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
