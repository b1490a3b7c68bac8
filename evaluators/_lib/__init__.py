"""Helpers shared by the built-in evaluators, each in one place. Evaluators import only `registry`
(the public plugin API) and this package; nothing here imports an evaluator module."""
