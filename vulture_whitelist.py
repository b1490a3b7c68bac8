"""Names vulture (`[tool.vulture]` in pyproject.toml) reports as unused that are used, each with why.

A line is a bare reference to the name (or `_.attribute`); nothing here runs.
"""
# ruff: noqa

# Evaluators are found through the `registry.evaluators` entry points in pyproject.toml, never imported by name.
ActivationStat
PrecedesPooled
Locked
Attention
Coincide
RunsCompare
Drift
Precedes
Lens
Spikes
Compare
Threshold
Trend
Probe
MatchRate
Top1Agreement
Perplexity

# Choices of a CLI option: typer reads the enum's members.
dask  # Executor.dask (registry evaluate --executor dask)
markdown  # DiffFormat.markdown (registry diff --format markdown)

# Fields of pydantic models: read through model_dump (verdict files, JSON Schema, fingerprints), never by attribute.
detector  # evaluators/events.py: the discriminator of each detector's params
tests  # Decision.tests (verdict files)
references  # Claim
url  # Reference
description  # Prediction, RunManifest
authors  # Claim
registered  # Claim
rate  # Stat (registry/plugins.py)
run_commit  # Registration (verdict files)
decision  # Verdict
claim_commit  # Registration
claim_committed  # Registration
run_started  # Registration
run_started_from  # Registration

# Read by tests and by whoever debugs a manifest: where a tensor's axis names came from.
_.axes_source
# What a metrics table offers a claim (tests).
_.available

# Public API for embedding the registry without entry points (tests/test_plugins.py uses it).
_.from_evaluators

# rich calls Console.on_broken_pipe; the override (registry/cli/render.py) sets rich's own `quiet`.
_.on_broken_pipe
_.quiet
# RE2 options (google-re2), set on the Options object and read by the C++ library.
_.case_sensitive
_.log_errors

# PyYAML's dump calls Dumper.represent, and reads alias_key (registry/verdicts/dumper.py resets it as PyYAML does).
_.represent
_.alias_key
