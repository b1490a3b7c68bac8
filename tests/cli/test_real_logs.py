"""Real logs, real mistakes (issue 11): one broken run never blocks the rest; validate opens the
artifacts and catches wrong column names and formats before they become committed `inconclusive`
verdicts; messages that used to mislead. Each case pins its message and exit code."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Project, invoke, write_run, write_table

CLAIM = """\
id: {id}
title: t
statement: s
falsified_if: f
status: draft
applies_to: {applies}
predictions:
  - id: p
    level: loss
    evaluator: metric.threshold
    params: {params}
    expect:
      - {{stat: value, op: "{op}", value: {value}}}
"""


def claim(
    project: Project, claim_id: str, params: str = "{column: loss}", applies: str = "{}", value: str = "5", op: str = "<"
) -> Path:
    path = project.claims / f"{claim_id}.yaml"
    path.write_text(CLAIM.format(id=claim_id, params=params, applies=applies, value=value, op=op))
    return path


def run(project: Project, run_id: str, artifact: dict | None = None, tags: list[str] | None = None, **columns) -> Path:
    folder = project.runs / run_id
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "metrics.csv", columns or {"step": [0, 1, 2], "loss": [3.0, 2.0, 1.0]})
    write_run(folder, run_id, {"metrics": artifact or {"path": "metrics.csv"}}, tags=tags)
    return folder


# --- isolated failures ------------------------------------------------------------------------------


def test_a_broken_run_among_50_leaves_49_evaluated(project: Project) -> None:
    claim(project, "final-loss-low")
    for i in range(50):
        run(project, f"run-{i:02d}")
    (project.runs / "run-17" / "metrics.csv").write_text("step,loss\n0,1\n1,abc\n")
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output.endswith(
        "runs/run-17/metrics.csv:3: column 'loss' is not numeric ('abc') "
        "(hint: metric columns must hold numbers; filter rows with `where:` if the table mixes kinds)\n"
    )
    written = sorted(p.stem for p in (project.verdicts / "final-loss-low").iterdir())
    assert len(written) == 49 and "run-17" not in written


def test_a_broken_manifest_keeps_its_old_verdict_and_the_others_go_on(project: Project) -> None:
    claim(project, "final-loss-low")
    run(project, "good")
    run(project, "bad")
    assert invoke("evaluate").exit_code == 0
    old = project.verdict("final-loss-low", "bad").read_bytes()
    (project.runs / "bad" / "run.yaml").write_text("id: bad\nartefacts: {}\n")
    (project.runs / "good" / "metrics.csv").write_text("step,loss\n0,3\n1,0.5\n")
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output.endswith("runs/bad/run.yaml:2:1: artefacts: unknown key (hint: did you mean 'artifacts'?)\n")
    assert project.verdict("final-loss-low", "bad").read_bytes() == old
    assert "value: 0.5" in project.verdict("final-loss-low", "good").read_text()
    status = invoke("status")
    assert status.exit_code == 2, status.output
    assert "runs/bad/run.yaml:2:1: artefacts: unknown key" in status.output
    assert "final-loss-low\tbad\tunreadable\tno readable run 'bad' (1 run manifest(s) could not be read)\n" in status.output


def test_a_missing_artifact_affects_only_the_predictions_that_read_it(project: Project) -> None:
    claim(project, "final-loss-low")
    claim(project, "reads-val", params="{artifact: val, column: loss}")
    folder = run(project, "r")
    write_run(folder, "r", {"metrics": {"path": "metrics.csv"}, "val": {"path": "val.csv"}})
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output.endswith(
        "runs/r/run.yaml:7:11: artifacts.val.path: artifact file 'val.csv' does not exist (hint: looked for runs/r/val.csv)\n"
    )
    assert project.verdict("final-loss-low", "r").is_file()
    assert not project.verdict("reads-val", "r").exists()


# --- validate opens the artifacts ---------------------------------------------------------------------


def test_validate_names_a_wrong_column_and_prefers_the_training_loss(project: Project) -> None:
    claim(project, "c", params="{column: train_loss}")
    run(project, "r", step=[0, 1], loss=[2.0, 1.0], eval_loss=[2.5, 2.0], val_loss=[2.6, 2.1])
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/c.yaml:11:22: predictions[0].params.column: run 'r': artifact 'metrics' has no column 'train_loss' "
        "(hint: did you mean 'loss'? columns are eval_loss, loss, step, val_loss)\n"
    )
    assert invoke("validate", "--no-artifacts").exit_code == 0


def test_validate_explains_the_wandb_prefix_rule(project: Project) -> None:
    claim(project, "c", params="{column: glorious-sun-12 - train/loss}")
    folder = project.runs / "r"
    folder.mkdir()
    (folder / "export.csv").write_text('Step,"glorious-sun-12 - train/loss"\n0,2.0\n1,1.5\n')
    write_run(folder, "r", {"metrics": {"path": "export.csv", "format": "wandb"}})
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/c.yaml:11:22: predictions[0].params.column: run 'r': artifact 'metrics' has no column "
        "'glorious-sun-12 - train/loss' (hint: a W&B export names its columns `<run> - <metric>`; the reader removes "
        "the prefix of the run chosen with `run:`, so write the metric alone ('train/loss'); columns are step, train/loss)\n"
    )


def test_validate_refuses_an_unknown_format(project: Project) -> None:
    run(project, "r", artifact={"path": "metrics.csv", "format": "bogus"})
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "runs/r/run.yaml:6:13: artifacts.metrics.format: unknown format 'bogus'; metrics artifacts take "
        "csv, tsv, jsonl, parquet, tensorboard, mlflow, hf_trainer_state, lightning, wandb\n"
    )


def test_wandb_csv_is_not_a_format_and_says_which_are(project: Project) -> None:
    run(project, "r", artifact={"path": "metrics.csv", "format": "wandb-csv", "run": "a"})
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "artifacts.metrics.format: unknown format 'wandb-csv'; did you mean 'wandb'? metrics artifacts take csv" in (
        result.output
    )


def test_a_claim_that_applies_to_no_run_is_a_warning_naming_the_nearest_tags(project: Project) -> None:
    claim(project, "c", applies="{tags: [llmc]}")
    run(project, "r", tags=["llm.c", "gpt2"])
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "claims/c.yaml:6:13: applies_to: warning: applies to no run (hint: did you mean 'llm.c'? tags: gpt2, llm.c; runs: r)\n"
    )
    assert result.stdout == "ok: 1 claim(s), 1 run(s)\n"
    assert invoke("validate", "--strict").exit_code == 1


# --- formats told by content --------------------------------------------------------------------------


def test_a_lightning_metrics_csv_without_format_is_read_as_lightning(project: Project) -> None:
    claim(project, "final-loss-low")
    folder = project.runs / "r"
    folder.mkdir()
    (folder / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,9,2.0,\n0,9,,2.5\n0,19,1.5,\n")
    write_run(folder, "r", {"metrics": {"path": "metrics.csv", "columns": {"loss": "train_loss"}}})
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert "value: 1.5" in project.verdict("final-loss-low", "r").read_text()


def test_a_wandb_export_without_format_is_read_as_wandb(project: Project) -> None:
    claim(project, "final-loss-low", params="{column: train/loss}")
    folder = project.runs / "r"
    folder.mkdir()
    (folder / "export.csv").write_text('Step,"sun-1 - train/loss","sun-1 - train/loss__MIN"\n0,2.0,2.0\n5,1.25,1.25\n')
    write_run(folder, "r", {"metrics": {"path": "export.csv"}})
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert "value: 1.25" in project.verdict("final-loss-low", "r").read_text()


def test_a_step_outside_int64_is_a_located_error(project: Project) -> None:
    claim(project, "final-loss-low")
    run(project, "r")
    (project.runs / "r" / "metrics.csv").write_text(f"step,loss\n0,1\n{2**70},2\n")
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "runs/r/metrics.csv:3: step 1180591620717411303424 is outside the 64-bit integer range (hint: steps must fit in int64)\n"
    )


def test_a_quoted_number_against_a_numeric_statistic_is_refused_at_validate(project: Project) -> None:
    claim(project, "c", value='"2"', op="==")
    run(project, "r")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/c.yaml:13:40: predictions[0].expect[0].value: metric.threshold reports value as float; "
        "'2' is a string (hint: write the number without quotes)\n"
    )


# --- inspect ------------------------------------------------------------------------------------------


def test_inspect_lists_columns_with_their_written_rows_and_step_ranges(project: Project) -> None:
    folder = project.runs / "r"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("step,loss,val_loss\n0,3.0,\n10,2.0,\n15,,2.5\n20,1.0,\n")
    write_run(folder, "r", {"metrics": {"path": "metrics.csv"}, "gone": {"path": "gone.csv"}})
    result = invoke("inspect", "r")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "gone: gone.csv (metrics, unknown format)\n"
        "  runs/r/run.yaml:7:11: artifacts.gone.path: artifact file 'gone.csv' does not exist "
        "(hint: looked for runs/r/gone.csv)\n"
        "metrics: metrics.csv (metrics, csv)\n"
        "  step      4 rows, steps 0..20\n"
        "  loss      3 rows, steps 0..20\n"
        "  val_loss  1 rows, steps 15..15\n"
    )
    result = invoke("inspect", "q")
    assert result.exit_code == 2, result.output
    assert result.output == "no run 'q' (hint: give a run folder, or the id of a run in the configured runs folders)\n"


def test_a_tab_in_yaml_says_tab(project: Project) -> None:
    (project.claims / "c.yaml").write_text("id: c\nkey:\n\t- a\n")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/c.yaml:3:1: YAML syntax error: a tab character here (found character that cannot start any token) "
        "(hint: YAML indents with spaces only: replace the tab with spaces)\n"
    )


def test_a_run_folder_outside_the_configured_roots_warns_with_the_line_to_add(project: Project) -> None:
    claim(project, "final-loss-low")
    run(project, "r")
    (project.runs / "r").rename(project.root / "elsewhere")
    result = invoke("evaluate", "--run", "elsewhere")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "elsewhere: warning: this run folder is outside the configured runs folders, so `registry status` will call "
        'its verdicts orphaned (hint: in pyproject.toml, set [tool.registry] runs = ["runs", "elsewhere"])\n'
    )


def test_a_missing_configured_runs_folder_is_a_warning(project: Project) -> None:
    claim(project, "final-loss-low")
    project.runs.rmdir()
    result = invoke("status")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "pyproject.toml: warning: the configured runs folder runs does not exist "
        "(hint: create it, or remove it from `runs` under [tool.registry])\n"
    )


# --- registry new -----------------------------------------------------------------------------------------


def test_a_new_skeleton_applies_to_no_run_and_fails_validate_until_filled(project: Project) -> None:
    run(project, "r")
    assert invoke("new", "my-claim", "--area", "loss").output == "wrote claims/loss/my-claim.yaml\nwrote claim.schema.json\n"
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/loss/my-claim.yaml:3:8: title: still holds the skeleton's TODO text "
        "(hint: say what the claim is: `registry new` wrote TODO placeholders)\n"
        "claims/loss/my-claim.yaml:4:12: statement: still holds the skeleton's TODO text "
        "(hint: say what the claim is: `registry new` wrote TODO placeholders)\n"
        "claims/loss/my-claim.yaml:6:15: falsified_if: still holds the skeleton's TODO text "
        "(hint: say what the claim is: `registry new` wrote TODO placeholders)\n"
    )
    path = project.claims / "loss" / "my-claim.yaml"
    path.write_text(path.read_text().replace("TODO the", "the").replace("TODO one line", "one line"))
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert not (project.verdicts / "my-claim").exists()  # applies to no run until applies_to is filled in


def test_new_refuses_an_id_used_in_another_area(project: Project) -> None:
    assert invoke("new", "my-claim", "--area", "loss").exit_code == 0
    result = invoke("new", "my-claim", "--area", "text")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/loss/my-claim.yaml: claim id 'my-claim' is already used "
        "(hint: claim ids are unique across areas; choose another id)\n"
    )


def test_validate_names_a_tensor_no_checkpoint_has(project: Project) -> None:
    project.add_run("runs/basic")
    path = project.add_claim("claims/activation/resid-rms-bounded.yaml")
    path.write_text(path.read_text().replace("tensor: resid,", "tensor: resdi,"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/resid-rms-bounded.yaml:9:22: predictions[0].params.tensor: run 'basic': artifact 'activations' "
        "has no tensor matching 'resdi' (hint: did you mean 'resid'? tensors are resid)\n"
    )


def test_a_trainer_state_under_another_name_is_read_as_hf(project: Project) -> None:
    claim(project, "final-loss-low")
    folder = project.runs / "r"
    folder.mkdir()
    history = '{"log_history": [{"loss": 2.0, "step": 10}, {"eval_loss": 3.0, "step": 15}, {"loss": 1.5, "step": 20}]}'
    (folder / "state-1500.json").write_text(history)
    write_run(folder, "r", {"metrics": {"path": "state-1500.json", "kind": "metrics"}})
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    text = project.verdict("final-loss-low", "r").read_text()
    assert "value: 1.5" in text and "n: 2" in text  # loss has 2 written rows; the eval step is not one


def test_validate_caches_the_names_of_a_log_without_a_header(project: Project) -> None:
    claim(project, "c", params="{column: loss}")
    folder = project.runs / "r"
    folder.mkdir()
    (folder / "m.jsonl").write_text('{"step": 0, "loss": 1}\n{"step": 1, "acc": 0.5}\n')
    write_run(folder, "r", {"metrics": {"path": "m.jsonl", "kind": "metrics"}})
    assert invoke("validate").exit_code == 0
    cached = list((project.root / ".registry-cache" / "columns").glob("*.json"))
    assert len(cached) == 1 and sorted(json.loads(cached[0].read_text())) == ["acc", "loss", "step"]


def test_list_and_show_go_on_past_a_broken_manifest(project: Project) -> None:
    claim(project, "final-loss-low")
    run(project, "good")
    assert invoke("evaluate").exit_code == 0
    folder = project.runs / "bad"
    folder.mkdir()
    (folder / "run.yaml").write_text("id: bad\nartefacts: {}\n")
    for args in (["list"], ["show", "final-loss-low"]):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "final-loss-low" in result.stdout
        assert result.stderr == "runs/bad/run.yaml:2:1: artefacts: unknown key (hint: did you mean 'artifacts'?)\n"
