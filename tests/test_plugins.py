"""Plugin discovery with a small installable fake plugin package (tests/fake_plugin).

`fake.constant` is a working third-party evaluator; `fake.broken`'s module raises ImportError on
import. Discovery must list both without importing them, load each on its own, report the broken
one with its package and version, and give `error` only to the predictions that use it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import yaml
from conftest import FAKE_PLUGIN, FIXTURES, Project

from registry.language.load import load_claims
from registry.plugins import ENTRY_POINT_GROUP, Evaluator, EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator
from registry.verdicts.engine import evaluate

GROUP = ENTRY_POINT_GROUP
CONSTANT = EntryPoint("fake.constant", "fake_registry_plugin.constant:Constant", GROUP)
BROKEN = EntryPoint("fake.broken", "fake_registry_plugin.broken:Broken", GROUP)


@pytest.fixture
def fake_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN))
    for name in [m for m in sys.modules if m.startswith("fake_registry_plugin")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.usefixtures("fake_on_path")
def test_entry_points_are_listed_without_importing() -> None:
    registry = EvaluatorRegistry(entry_points=[CONSTANT, BROKEN])
    assert registry.names() == ["fake.broken", "fake.constant"]
    assert not any(m.startswith("fake_registry_plugin") for m in sys.modules)


@pytest.mark.usefixtures("fake_on_path")
def test_good_plugin_loads_broken_one_is_reported() -> None:
    registry = EvaluatorRegistry(entry_points=[BROKEN, CONSTANT])
    constant = registry.get("fake.constant")
    assert isinstance(constant, Evaluator)
    assert constant.version == "7"
    with pytest.raises(EvaluatorUnavailable) as info:
        registry.get("fake.broken")
    failure = info.value.failure
    assert failure.name == "fake.broken"
    assert failure.value == "fake_registry_plugin.broken:Broken"
    assert failure.error == "ImportError: fake_registry_plugin.broken needs the package 'not-installed-anywhere'"
    # Asked again, the failure is remembered rather than re-imported.
    with pytest.raises(EvaluatorUnavailable):
        registry.get("fake.broken")
    ok, failures = registry.load_all()
    assert [e.name for e in ok] == ["fake.constant"]
    assert [f.name for f in failures] == ["fake.broken"]


@pytest.mark.usefixtures("fake_on_path")
def test_unknown_name_suggests_a_close_one() -> None:
    registry = EvaluatorRegistry(entry_points=[CONSTANT])
    with pytest.raises(UnknownEvaluator) as info:
        registry.get("fake.constnat")
    assert info.value.suggestions == ["fake.constant"]


@pytest.mark.usefixtures("fake_on_path")
@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "fake_registry_plugin.constant:ConstantParams",
            "TypeError: fake_registry_plugin.constant:ConstantParams is neither an Evaluator nor a CrossRunEvaluator subclass",
        ),
        ("fake_registry_plugin.constant:Missing", "AttributeError"),
        ("fake_registry_plugin.nowhere:X", "ModuleNotFoundError: No module named 'fake_registry_plugin.nowhere'"),
    ],
)
def test_entry_points_that_are_not_evaluators_are_failures(value: str, error: str) -> None:
    registry = EvaluatorRegistry(entry_points=[EntryPoint("fake.odd", value, GROUP), CONSTANT])
    with pytest.raises(EvaluatorUnavailable) as info:
        registry.get("fake.odd")
    assert info.value.failure.error.startswith(error)
    assert registry.get("fake.constant").name == "fake.constant"


@pytest.mark.usefixtures("fake_on_path")
def test_entry_point_name_must_match_the_evaluator() -> None:
    registry = EvaluatorRegistry(entry_points=[EntryPoint("fake.renamed", CONSTANT.value, GROUP)])
    with pytest.raises(EvaluatorUnavailable) as info:
        registry.get("fake.renamed")
    assert info.value.failure.error == (
        "TypeError: fake_registry_plugin.constant:Constant calls itself 'fake.constant', not 'fake.renamed'"
    )


@pytest.mark.usefixtures("fake_on_path")
def test_plugins_are_sorted_into_per_run_and_cross_run_at_load() -> None:
    from registry.plugins import CrossRunEvaluator, Stat

    registry = EvaluatorRegistry(
        entry_points=[
            CONSTANT,
            EntryPoint("fake.pairs", "fake_registry_plugin.pairs:Pairs", GROUP),
        ]
    )
    constant, pairs = registry.get("fake.constant"), registry.get("fake.pairs")
    assert isinstance(constant, Evaluator) and not isinstance(constant, CrossRunEvaluator)
    assert isinstance(pairs, CrossRunEvaluator) and not isinstance(pairs, Evaluator)
    assert (constant.across, pairs.across) == ("run", "runs")
    assert not hasattr(pairs, "evaluate")  # no method that only raises TypeError
    assert registry.per_run("fake.constant") is constant
    with pytest.raises(ValueError, match="fake.pairs is not a per-run evaluator"):
        registry.per_run("fake.pairs")
    assert pairs.statistics == (Stat("runs", "Runs in all groups.", range=(0, float("inf")), type=int),)


@pytest.mark.usefixtures("fake_on_path")
def test_plain_string_statistics_are_normalised_to_stats() -> None:
    from registry.plugins import Stat

    registry = EvaluatorRegistry(entry_points=[EntryPoint("fake.legacy", "fake_registry_plugin.legacy:Legacy", GROUP)])
    legacy = registry.get("fake.legacy")
    assert legacy.statistics == (Stat("count", "", type=object),)
    assert legacy.statistics_for(legacy.Params()) == (Stat("count", "", type=object),)


def test_statistics_that_are_neither_stats_nor_names_are_refused() -> None:
    from registry.plugins import Measurement, Stat
    from registry.plugins import Params as NoParams

    class Odd(Evaluator[NoParams]):
        name = "fake.odd"
        levels = frozenset({"loss"})
        version = "1"
        Params = NoParams
        statistics = (Stat("a", ""), 3)  # type: ignore[assignment]

        def evaluate(self, params: NoParams, run: object) -> Measurement:  # type: ignore[override]  # noqa: ARG002
            return Measurement(statistics={}, n=0)

    class Twice(Odd):
        statistics = (Stat("a", ""), Stat("a", "again"))

    with pytest.raises(TypeError, match="statistic 3 is not a registry.Stat"):
        EvaluatorRegistry.from_evaluators(Odd)
    with pytest.raises(TypeError, match="statistic 'a' is declared twice"):
        EvaluatorRegistry.from_evaluators(Twice)


def test_a_stat_is_checked_when_declared() -> None:
    from registry.plugins import Stat

    with pytest.raises(ValueError, match="range \\(1, 0\\) is empty"):
        Stat("x", "", range=(1, 0))
    with pytest.raises(ValueError, match="type must be float, int, str or bool"):
        Stat("x", "", type=list)


def test_registries_do_not_share_state() -> None:
    """One registry per invocation: loading in one is not seen by another."""
    from evaluators.metric.threshold import Threshold

    a = EvaluatorRegistry.from_evaluators(Threshold)
    b = EvaluatorRegistry(entry_points=[])
    assert a.names() == ["metric.threshold"]
    assert b.names() == []


@pytest.mark.usefixtures("fake_on_path")
def test_only_predictions_using_the_broken_plugin_get_error(project: Project) -> None:
    from registry.runs.run import load_run

    registry = EvaluatorRegistry(entry_points=[CONSTANT, BROKEN, *_builtin_entry_points()])
    for name in ("uses-fake-constant", "uses-fake-broken"):
        project.add_claim(FIXTURES / "plugin-claims" / f"{name}.yaml")
    run = load_run(project.add_run("runs/basic") / "run.yaml")
    claims = load_claims([project.claims], registry)
    result = evaluate(claims, [run], registry)
    by_claim = {v.claim.id: v for v in result.verdicts}
    assert by_claim["uses-fake-constant"].outcome == "pass"
    broken = by_claim["uses-fake-broken"]
    assert broken.outcome == "error"
    assert [(p.id, p.outcome) for p in broken.predictions] == [("broken", "error"), ("builtin", "pass")]
    assert broken.predictions[0].evaluator_version is None
    assert "ImportError: fake_registry_plugin.broken needs the package 'not-installed-anywhere'" in (
        broken.predictions[0].reason or ""
    )


def _builtin_entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return [ep for ep in entry_points(group=GROUP) if ep.name == "metric.threshold"]


# --- the real thing: pip-installed into a target folder, used from a fresh interpreter ---------------

CHECK = """
import dataclasses, json
from registry.plugins import EvaluatorRegistry
registry = EvaluatorRegistry()
ok, failures = registry.load_all()
print(json.dumps({
    "names": registry.names(),
    "ok": {e.name: e.version for e in ok},
    "failures": {f.name: dataclasses.asdict(f) | {"rendered": f.render()} for f in failures},
}))
"""


@pytest.fixture(scope="module")
def pip_installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install --target` of tests/fake_plugin (copied first, so the build leaves no files in tests/)."""
    root = tmp_path_factory.mktemp("pip-plugin")
    source = root / "src"
    shutil.copytree(FAKE_PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = root / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--target", str(target), str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "fake_registry_plugin-0.3.1.dist-info" / "entry_points.txt").is_file()
    return target


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REGISTRY_DEBUG", "PYTHONPATH")}
    return env | {"PYTHONPATH": str(site), "NO_COLOR": "1", "COLUMNS": "200"}


def test_pip_installed_plugin_is_discovered_and_isolated(pip_installed_plugin: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env=_env(pip_installed_plugin), cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert {"fake.constant", "fake.broken", "metric.threshold", "loss.spikes"} <= set(found["names"])
    assert found["ok"]["fake.constant"] == "7"
    assert found["ok"]["metric.threshold"]
    broken = found["failures"]["fake.broken"]
    assert broken["package"] == "fake-registry-plugin"
    assert broken["package_version"] == "0.3.1"
    assert broken["rendered"] == (
        "evaluator 'fake.broken' from fake-registry-plugin 0.3.1 failed to load (fake_registry_plugin.broken:Broken): "
        "ImportError: fake_registry_plugin.broken needs the package 'not-installed-anywhere'"
    )


def test_pip_installed_plugin_through_the_cli(pip_installed_plugin: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "claims").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.registry]\nclaims = "claims"\nruns = "runs"\nverdicts = "verdicts"\n')
    shutil.copytree(FIXTURES / "runs" / "basic", project / "runs" / "basic")
    for name in ("uses-fake-constant", "uses-fake-broken", "one-spike"):
        src = FIXTURES / ("plugin-claims" if name.startswith("uses") else "claims/loss") / f"{name}.yaml"
        shutil.copyfile(src, project / "claims" / src.name)

    def registry(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry", *args],
            capture_output=True, text=True, env=_env(pip_installed_plugin), cwd=project, timeout=60,
        )

    proc = registry("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The claim is valid as far as it can be checked; the broken plugin is named as a warning.
    assert (
        "claims/uses-fake-broken.yaml:" in proc.stderr
        and "evaluator 'fake.broken' from fake-registry-plugin 0.3.1 failed to load" in proc.stderr
    ), proc.stderr
    proc = registry("evaluate")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # an evaluator could not be loaded
    assert "Traceback" not in proc.stdout + proc.stderr

    def outcome(claim: str) -> dict[str, object]:
        return yaml.safe_load((project / "verdicts" / claim / "basic.yaml").read_text())

    assert outcome("uses-fake-constant")["outcome"] == "pass"
    assert outcome("one-spike")["outcome"] == "pass"
    broken = outcome("uses-fake-broken")
    assert broken["outcome"] == "error"
    preds = {p["id"]: p for p in broken["predictions"]}  # type: ignore[union-attr]
    assert preds["builtin"]["outcome"] == "pass"
    assert preds["broken"]["outcome"] == "error"
    assert preds["broken"]["reason"].startswith("evaluator 'fake.broken' from fake-registry-plugin 0.3.1 failed to load")

    proc = registry("evaluators")
    assert proc.returncode == 0, proc.stderr
    assert "fake.constant 7  levels: activation, loss, text" in proc.stdout
    assert "evaluator 'fake.broken' from fake-registry-plugin 0.3.1 failed to load" in proc.stdout
