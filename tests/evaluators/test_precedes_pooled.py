"""events.precedes_pooled against events.precedes: pooled over one run it is the per-run test, draw for draw."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluators.events.precedes import Precedes, PrecedesParams
from evaluators.events.precedes_pooled import PooledParams, PrecedesPooled
from registry import EvaluatorRegistry
from registry.runs.run import load_run

LLMC = Path(__file__).resolve().parents[2] / "runs" / "llmc-gpt2-124m" / "run.yaml"
PARAMS = {
    "target": {"column": "loss", "detector": "robust_z", "window": 50, "z": 6, "min_ratio": 1.05, "steps": [700, None]},
    "signal": {"column": "grad_norm", "detector": "robust_z", "window": 50, "z": 6, "min_ratio": 1.5, "steps": [700, None]},
    "within": [-10, 0],
    "permutations": 300,
    "seed": 3,
}


def test_pooled_over_one_run_is_the_per_run_test() -> None:
    """One run: the same shifts are drawn, so every statistic equals events.precedes' on that run."""
    run = load_run(LLMC)
    single = Precedes().evaluate(PrecedesParams.model_validate(PARAMS), run)
    pooled = PrecedesPooled().evaluate_runs(PooledParams.model_validate(PARAMS), {"all": [run]}, EvaluatorRegistry())
    for stat in ("fraction", "base_rate", "lift", "p_value", "target_events", "signal_events"):
        assert pooled.statistics[stat] == single.statistics[stat], stat
    assert pooled.n == single.n == single.statistics["target_events"] > 10
    assert pooled.evidence["runs"][run.id]["preceded_onsets"] == single.evidence["preceded_onsets"]


def test_pooled_counts_add_up_over_runs(tmp_path: Path) -> None:
    """Two copies of a run: twice the events, the same fraction; the null still shifts each copy on its own."""
    import shutil

    runs = []
    for rid in ("copy-a", "copy-b"):
        folder = tmp_path / rid
        shutil.copytree(LLMC.parent, folder)
        text = (folder / "run.yaml").read_text().replace("id: llmc-gpt2-124m", f"id: {rid}")
        (folder / "run.yaml").write_text(text)
        runs.append(load_run(folder / "run.yaml"))
    single = Precedes().evaluate(PrecedesParams.model_validate(PARAMS), runs[0])
    pooled = PrecedesPooled().evaluate_runs(PooledParams.model_validate(PARAMS), {"all": runs}, EvaluatorRegistry())
    assert pooled.statistics["target_events"] == 2 * single.statistics["target_events"]
    assert pooled.statistics["fraction"] == pytest.approx(single.statistics["fraction"])
    assert pooled.statistics["runs"] == 2
    assert 0 < pooled.statistics["p_value"] <= 1
