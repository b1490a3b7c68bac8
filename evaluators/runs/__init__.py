"""runs.compare: a per-run statistic compared between groups of runs."""
