"""Runs: run.yaml (`manifest`, the one module that owns it), the `Run` with its lazily opened artifacts
(`run`), and content hashes (`hashing`)."""
