"""Integrity of the record, from git: `git` (the plumbing), `registration` (pre-/postregistered),
`amendments` (changed claims), `history` (verdict history and diffs), `status` (stale verdicts, stats)."""
