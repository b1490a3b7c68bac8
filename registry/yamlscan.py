"""Checks on a YAML text before it is composed into nodes (part of the one YAML loader,
registry/yamlsource.py): nesting depth and alias expansion, so that neither a deeply nested text
nor an alias bomb costs more than one flat pass over the text or its events."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from registry.errors import Location, UserError, display_path

# Expanded nodes allowed per document. A claim file has a few hundred; aliases that would expand
# past this are refused as an alias bomb.
MAX_NODES = 100_000
# Nesting allowed per document (a claim needs about six levels). libyaml's composer recurses in C and
# crashes the process on tens of thousands of levels, so texts long enough to nest that deep are
# checked on the event stream (flat, cheap) before composing.
MAX_DEPTH = 100

# libyaml's parser when PyYAML was built with it (about 10x faster); the pure-Python one otherwise.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_FLOW_CHARS = re.compile(r"""[\[\]{}'"#\n\\]""")


def too_deep(path: Path, line: int, col: int) -> UserError:
    return UserError(
        f"values are nested more than {MAX_DEPTH} levels deep",
        location=Location(display_path(path), line, col),
        hint="claim files need a few levels of nesting; an alias inside its own anchor (&x [*x]) nests forever",
    )


def check_flow_depth(path: Path, text: str) -> None:
    """Refuse deeply nested flow collections (`[[[...`) before libyaml sees them.

    libyaml's scanner reads ahead of its parser and, in recent releases, stops at its own depth
    limit with a message that varies by version; counting brackets here gives the same located
    message everywhere. The top-level mapping counts as one level, as in the event check below.
    Quoted strings and comments are skipped; a bracket inside a plain scalar may over-count, which
    matters only past a hundred of them.
    """
    depth = 1
    quote: str | None = None
    comment = False
    escaped = False
    for match in _FLOW_CHARS.finditer(text):
        ch = match.group()
        if ch == "\n":
            comment = False
            continue
        if comment:
            continue
        if quote == '"':
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quote = None
            continue
        if quote == "'":
            if ch == "'":
                quote = None  # '' (an escaped quote) closes and reopens: the same for counting
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "#":
            start = match.start()
            comment = start == 0 or text[start - 1] in " \t\n"
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                start = match.start()
                line = text.count("\n", 0, start) + 1
                col = start - (text.rfind("\n", 0, start) + 1) + 1
                raise too_deep(path, line, col)
        elif ch in "]}":
            depth = max(1, depth - 1)


def prescan(path: Path, text: str) -> None:
    """Depth and alias expansion, counted on the event stream (flat, cheap) before composing.

    Each anchored node's expanded size is known when its end event arrives, and an alias adds its
    anchor's size to every enclosing collection, so an alias bomb is refused before any expansion."""
    sizes: dict[str, int] = {}
    stack: list[tuple[int, str | None]] = [(0, None)]  # (expanded nodes so far, anchor) per open collection
    top: tuple[str | None, tuple[int, int]] = (None, (1, 1))  # the top-level key being read, and where
    children = 0  # nodes completed in the top-level mapping: keys are the even ones
    for event in yaml.parse(text, Loader=LOADER):
        mark = event.start_mark
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        if len(stack) == 2 and not isinstance(event, yaml.CollectionEndEvent):
            if children % 2 == 0:
                top = (str(event.value) if isinstance(event, yaml.ScalarEvent) else None, where)
            children += 1
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            stack.append((1, event.anchor))
            if len(stack) - 1 > MAX_DEPTH:
                raise too_deep(path, *where)
            continue
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            size, anchor = stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            size, anchor = sizes.get(event.anchor or "", 1), None  # an alias inside its own anchor: see build()
        elif isinstance(event, yaml.ScalarEvent):
            size, anchor = 1, event.anchor
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        total = stack[-1][0] + size
        if total > MAX_NODES:
            raise UserError(
                f"aliases expand to more than {MAX_NODES} values (alias bomb?)",
                location=Location(display_path(path), *top[1], top[0]) if top[0] else Location(display_path(path), *where),
                hint="claim files do not need anchors and aliases; write values out",
            )
        stack[-1] = (total, stack[-1][1])
