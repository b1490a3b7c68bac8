"""The `registry` command: `app` (typer: parse, call, render, exit code), `commands` (one function per
command, over the core), `render` (tables, JSON, markdown). Nothing below the CLI imports it."""
