"""Every built-in evaluator on small artifacts with known statistics: one YAML file per evaluator in
tests/evaluators/cases/<name>.yaml, one parametrized test (as sqlfluff tests its rules).

A file holds `cases:` (and optionally `tables:`, named CSV texts). A case has an `id`, `params`, and
either `statistics` (the statistics it pins; floats to 1e-9 relative, inf exactly), `n`, optional
`evidence` keys and `omitted` (declared statistics the evaluator leaves out in that case), or
`cannot_measure` (the exact reason). Its artifacts are one of:

- `artifacts:` name -> {file, and one of: text (the file's content), table (a name under `tables`),
  tensors (name -> {dtype, values}, written as .npy/.npz/.safetensors by suffix), copy (a fixture file
  or folder under tests/fixtures/)}; other keys (kind, where, format, ...) go into run.yaml as written;
- `file:` (a fixture under tests/fixtures/text/) or `text:` (inline JSONL): the run's `samples`, with
  `spec:` added to its run.yaml entry;
- `runs:` run id -> artifacts as above, for a cross-run evaluator, with `groups:` (group -> run ids;
  default one group `all`).

Expected values are computed independently: by hand, or by a plain reference computation, written in
the case's comment -- never copied from the evaluator's output.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, write_run, write_tensors

from registry import CannotMeasure, CrossRunEvaluator, Evaluator, EvaluatorRegistry, Run
from registry.runs.run import load_run

CASES_DIR = Path(__file__).parent / "cases"
FILES = sorted(CASES_DIR.glob("*.yaml"))
DATA = {f.stem: yaml.safe_load(f.read_text(encoding="utf-8")) for f in FILES}
CASES = [(name, case) for name, data in DATA.items() for case in data["cases"]]


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


def same(observed: Any, expected: Any) -> bool:
    """Equal, with floats compared to 1e-9 relative (inf exactly), nested dicts and lists alike."""
    if isinstance(expected, dict):
        return (
            isinstance(observed, dict)
            and observed.keys() == expected.keys()
            and all(same(observed[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return isinstance(observed, list | tuple) and len(observed) == len(expected) and all(map(same, observed, expected))
    if isinstance(expected, float) and isinstance(observed, int | float) and not isinstance(observed, bool):
        if math.isinf(expected):
            return observed == expected
        return math.isclose(observed, expected, rel_tol=1e-9, abs_tol=1e-12)
    return type(observed) is type(expected) and observed == expected


def _artifacts(folder: Path, artifacts: dict[str, dict[str, Any]], tables: dict[str, str]) -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = {}
    for name, art in artifacts.items():
        art = dict(art)
        if "copy" in art:
            src = FIXTURES / art.pop("copy")
            target = folder / art.pop("file", src.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copyfile)(src, target)
        else:
            target = folder / art.pop("file")
            target.parent.mkdir(parents=True, exist_ok=True)
            if "text" in art:
                target.write_text(art.pop("text"), encoding="utf-8")
            elif "table" in art:
                target.write_text(tables[art.pop("table")], encoding="utf-8")
            elif "tensors" in art:
                tensors = {n: (t["dtype"], t["values"]) for n, t in art.pop("tensors").items()}
                write_tensors(target, tensors, art.pop("metadata", None))
        specs[name] = {"path": target.relative_to(folder).as_posix(), **art}
    return specs


def _case_artifacts(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The text cases' shorthand (`file`/`text` + `spec`) as artifacts."""
    if "artifacts" in case:
        return dict(case["artifacts"])
    spec = {"kind": "text", **case.get("spec", {})}
    if "file" in case:
        return {"samples": {"copy": f"text/{case['file']}", **spec}}
    return {"samples": {"file": "samples.jsonl", "text": case["text"], **spec}}


def build_runs(folder: Path, case: dict[str, Any], tables: dict[str, str]) -> list[Run]:
    runs = case.get("runs") or {"case-run": _case_artifacts(case)}
    out = []
    for run_id, artifacts in runs.items():
        run_folder = folder / run_id
        run_folder.mkdir(parents=True, exist_ok=True)
        out.append(load_run(write_run(run_folder, run_id, _artifacts(run_folder, artifacts, tables))))
    return out


def measure(evaluators: EvaluatorRegistry, name: str, case: dict[str, Any], runs: list[Run]) -> Any:
    evaluator = evaluators.get(name)
    params = evaluator.Params.model_validate(case.get("params", {}))
    if isinstance(evaluator, CrossRunEvaluator):
        by_id = {r.id: r for r in runs}
        groups = {g: [by_id[i] for i in ids] for g, ids in (case.get("groups") or {"all": sorted(by_id)}).items()}
        return evaluator, params, lambda: evaluator.evaluate_runs(params, groups, evaluators)
    assert isinstance(evaluator, Evaluator) and len(runs) == 1
    return evaluator, params, lambda: evaluator.evaluate(params, runs[0])


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}:{c['id']}" for n, c in CASES])
def test_case(
    name: str, case: dict[str, Any], evaluators: EvaluatorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert case.get("evaluator", name) == name, "a case's evaluator is its file's name"
    runs = build_runs(tmp_path / "runs", case, DATA[name].get("tables") or {})
    evaluator, params, run = measure(evaluators, name, case, runs)
    if "cannot_measure" in case:
        with pytest.raises(CannotMeasure) as info:
            run()
        assert info.value.reason == case["cannot_measure"]
        return
    measurement = run()
    statistics = dict(measurement.statistics)
    # The contract: an evaluator returns exactly the statistics it declares ...
    # (`omitted`: declared statistics a case expects left out, e.g. runs.compare's p_value for 1-run groups)
    declared = {s.name: s for s in evaluator.statistics_for(params)}
    assert set(statistics) == set(declared) - set(case.get("omitted", []))
    # ... each of the declared type (null: undefined), inside its declared range.
    for stat_name, value in statistics.items():
        stat = declared[stat_name]
        if value is not None:
            assert isinstance(value, stat.type) or (stat.type is float and isinstance(value, int)), (stat_name, value)
            if stat.range is not None and not isinstance(value, str):
                assert stat.range[0] <= value <= stat.range[1], (stat_name, value)
    # Cases pin the statistics they are about.
    assert set(case["statistics"]) <= set(statistics)
    assert same({k: statistics[k] for k in case["statistics"]}, case["statistics"]), statistics
    assert measurement.n == case["n"]
    for key, expected in case.get("evidence", {}).items():
        assert same(measurement.evidence[key], expected), (key, measurement.evidence[key])


def test_every_builtin_has_cases(evaluators: EvaluatorRegistry) -> None:
    builtins = {n for n in evaluators.names() if evaluators.get(n).__module__.startswith("evaluators.")}
    assert len(builtins) == 19
    assert {f.stem for f in FILES} == builtins
    for name in builtins:
        assert any("cannot_measure" not in c for c in DATA[name]["cases"]), f"{name} has no measured case"


def test_cases_cover_every_option_of_threshold_and_stat(evaluators: EvaluatorRegistry) -> None:
    import typing

    reduce_options = set(typing.get_args(evaluators.get("metric.threshold").Params.model_fields["reduce"].annotation))
    assert {c.get("params", {}).get("reduce", "last") for c in DATA["metric.threshold"]["cases"]} >= reduce_options
    stat_options = set(typing.get_args(evaluators.get("activation.stat").Params.model_fields["stat"].annotation))
    assert {c["params"]["stat"] for c in DATA["activation.stat"]["cases"]} == stat_options
    suffixes = {Path(a["file"]).suffix for c in DATA["activation.stat"]["cases"] for a in c["artifacts"].values()}
    assert suffixes == {".npy", ".npz", ".safetensors"}


TEXT_CASES = [(n, c) for n, c in CASES if n.startswith("text.")]


@pytest.mark.parametrize(("name", "case"), TEXT_CASES, ids=[f"{n}:{c['id']}" for n, c in TEXT_CASES])
def test_text_case_read_as_a_large_artifact(
    name: str, case: dict[str, Any], evaluators: EvaluatorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text cases again, read the way a large artifact is (columns decoded with msgspec, samples
    streamed): the same measurement, or the same reason, as from the parsed-and-kept samples."""
    monkeypatch.chdir(tmp_path)
    kept_runs = build_runs(tmp_path / "kept", case, DATA[name].get("tables") or {})
    large_runs = build_runs(tmp_path / "large", case, DATA[name].get("tables") or {})
    _, _, kept = measure(evaluators, name, case, kept_runs)
    _, _, large = measure(evaluators, name, case, large_runs)
    try:
        expected: Any = kept()
    except CannotMeasure as exc:
        expected = exc.reason
    monkeypatch.setattr(Run, "SAMPLE_CACHE_BYTES", 0)
    try:
        observed: Any = large()
    except CannotMeasure as exc:
        observed = exc.reason
    assert observed == expected
