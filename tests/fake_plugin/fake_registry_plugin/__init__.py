"""Test-only evaluator plugin for claims-registry (see tests/test_plugins.py)."""
