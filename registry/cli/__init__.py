"""The `registry` command: `app` (typer: parse, call, render, exit code), `commands` (one function per
command, over the core), `render` (tables, JSON, markdown). Nothing below the CLI imports it."""

import os

# numpy's OpenBLAS starts a thread per core when numpy is first imported, and each spins for 2**28
# cycles (~0.1 s of a core) waiting for work before it sleeps: CPU taken from every command, most of
# which multiply no matrices. 2**4 cycles lets them sleep at once; a large product still wakes and
# uses them all. Set here, before anything imports numpy; a value in the environment wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
