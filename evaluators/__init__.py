"""Built-in evaluators. They register through the `registry.evaluators` entry points like any plugin."""
