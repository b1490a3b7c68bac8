"""The built-in evaluators, one per module, by family; found through the `registry.evaluators` entry points."""
