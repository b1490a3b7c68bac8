"""How often the sampled answers are the model's own top-1, by probe split and checkpoint offset from
the nearest spike onset: the breakdown behind the README's reading of the text-level verdicts.

    python -m examples.modarith.answers_by_offset runs/modarith-p53-seed*

Not a registered prediction: a look at the same samples.jsonl the text claim reads, split the way the
claim does not (training vs validation pairs, offset by offset). Offsets are those of the checkpoint
schedule (onset -20 ... +20); step 0 and the last step are `start` and `end`.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import yaml


def offset_label(step: int, onsets: list[int], last: int) -> str:
    near = [step - o for o in onsets if -20 <= step - o <= 20]
    if near:
        return f"{min(near, key=abs):+d}"
    return "start" if step == 0 else "end" if step == last else "other"


def tally(folders: list[Path]) -> dict[tuple[str, str], list[int]]:
    """(split, offset) -> [answers equal to the top-1, answers]."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for folder in folders:
        config = yaml.safe_load((folder / "run.yaml").read_text())["config"]
        onsets, last = config["spikes"]["onsets"], config["steps_run"] - 1
        with (folder / "samples.jsonl").open() as fh:
            for line in fh:
                sample = json.loads(line)
                cell = counts[(sample["split"], offset_label(sample["step"], onsets, last))]
                cell[0] += sample["text"] == sample["greedy"]
                cell[1] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    counts = tally(parser.parse_args().runs)
    order = ["start", "-20", "-5", "-1", "+0", "+1", "+5", "+20", "end", "other"]
    print("split  offset  top-1 share  answers")
    for split in sorted({s for s, _ in counts}):
        for offset in order:
            if (split, offset) in counts:
                same, n = counts[(split, offset)]
                print(f"{split:<6} {offset:>6}  {same / n:11.3f}  {n:7d}")


if __name__ == "__main__":
    main()
