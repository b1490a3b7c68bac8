"""The one YAML loader: safe YAML reading that remembers where every value came from.

Every YAML text the registry reads goes through `load_yaml`: claim files, run.yaml, verdict files,
claim versions read from git, MLflow's meta.yaml. `located` and `validation_errors` turn a pydantic
error into UserErrors at the file, line, column and key path where the value was written.

PyYAML composes the document into nodes (which carry line/column marks); we construct plain
Python values from those nodes ourselves so that we can
- refuse any tag outside YAML's core schema (no `!!python/object`),
- refuse duplicate mapping keys,
- bound alias expansion (a "billion laughs" file is refused after a fixed number of nodes),
- and keep a map from each value's key path to its line and column for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from registry.errors import Location, UserError, display_path

# Expanded nodes allowed per document. A claim file has a few hundred; aliases that would expand
# past this are refused as an alias bomb.
MAX_NODES = 100_000
# Nesting allowed per document (a claim needs about six levels). libyaml's composer recurses in C and
# crashes the process on tens of thousands of levels, so texts long enough to nest that deep are
# checked on the event stream (flat, cheap) before composing.
MAX_DEPTH = 100
_PRESCAN_CHARS = 8_192

_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

_YAML_TAG = "tag:yaml.org,2002:"

KeyPath = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (about 10x faster); the pure-Python one otherwise.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dotted(path: KeyPath) -> str:
    """`('predictions', 0, 'params')` -> `predictions[0].params`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass
class YamlDocument:
    """A parsed YAML mapping with the position of each key path (value start, and key start)."""

    path: Path
    data: Any
    value_marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, key_path: KeyPath, *, at_key: bool = False) -> Location:
        """The location of `key_path`, or of its nearest existing ancestor."""
        marks = self.key_marks if at_key else self.value_marks
        probe = tuple(key_path)
        while probe:
            if probe in marks:
                line, col = marks[probe]
                return Location(display_path(self.path), line, col, dotted(key_path))
            if at_key and probe in self.value_marks:
                line, col = self.value_marks[probe]
                return Location(display_path(self.path), line, col, dotted(key_path))
            probe = probe[:-1]
        line, col = self.value_marks.get((), (1, 1))
        return Location(display_path(self.path), line, col, dotted(key_path) if key_path else None)


class _Builder:
    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self.doc = YamlDocument(path=path, data=None)
        self._scalars = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, message: str, key_path: KeyPath, hint: str | None = None) -> UserError:
        loc = Location(
            display_path(self.path),
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            dotted(key_path) if key_path else None,
        )
        return UserError(message, location=loc, hint=hint)

    def build(self, node: yaml.Node, key_path: KeyPath) -> Any:
        if len(key_path) > MAX_DEPTH:
            # Also stops a recursive alias (`a: &x [*x]`), which composes into a cycle.
            raise self.fail(
                node,
                f"values are nested more than {MAX_DEPTH} levels deep",
                key_path[:1],
                "claim files need a few levels of nesting; an alias inside its own anchor (&x [*x]) nests forever",
            )
        self.count += 1
        if self.count > MAX_NODES:
            # An alias points back at its anchor's node, so the node here is deep inside the anchor's
            # text; the top-level key whose value blew up is what the reader can act on.
            top = key_path[:1]
            line, col = self.doc.key_marks.get(top) or (node.start_mark.line + 1, node.start_mark.column + 1)
            raise UserError(
                f"aliases expand to more than {MAX_NODES} values (alias bomb?)",
                location=Location(display_path(self.path), line, col, dotted(top) if top else None),
                hint="claim files do not need anchors and aliases; write values out",
            )
        if node.tag not in _CORE_TAGS:
            shown = "!!" + node.tag[len(_YAML_TAG) :] if node.tag.startswith(_YAML_TAG) else node.tag
            raise self.fail(
                node,
                f"tag {shown!r} is not allowed",
                key_path,
                "only plain YAML values are read; remove the tag",
            )
        self.doc.value_marks.setdefault(key_path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "merge keys (<<) are not allowed", key_path, "write the keys out")
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain scalars", key_path)
                key = self.build(key_node, key_path + ("<key>",))
                if not isinstance(key, str | int | bool | float) or key is None:
                    raise self.fail(key_node, "mapping keys must be plain scalars", key_path)
                skey = key if isinstance(key, str) else str(key)
                child = key_path + (skey,)
                if skey in out:
                    first = self.doc.key_marks.get(child)
                    where = f" (first at line {first[0]})" if first else ""
                    raise self.fail(key_node, f"duplicate key {skey!r}{where}", child, "remove one of them")
                self.doc.key_marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[skey] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, key_path + (i,)) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)


_FLOW_CHARS = re.compile(r"""[\[\]{}'"#\n\\]""")


def _too_deep(path: Path, line: int, col: int) -> UserError:
    return UserError(
        f"values are nested more than {MAX_DEPTH} levels deep",
        location=Location(display_path(path), line, col),
        hint="claim files need a few levels of nesting; an alias inside its own anchor (&x [*x]) nests forever",
    )


def _check_flow_depth(path: Path, text: str) -> None:
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
                raise _too_deep(path, line, col)
        elif ch in "]}":
            depth = max(1, depth - 1)


def _check_depth(path: Path, text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
                raise _too_deep(path, line, col)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def load_yaml(path: Path, *, text: str | None = None) -> YamlDocument:
    """Read `path` as one YAML document; every problem is a located :class:`UserError`."""
    if text is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UserError(
                f"cannot read file: {exc.strerror or exc}", location=Location(display_path(path))
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = raw.count(b"\n", 0, exc.start) + 1
            bad_col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise UserError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                location=Location(display_path(path), bad_line, bad_col),
                hint="save the file as UTF-8",
            ) from None
    builder = _Builder(path)
    try:
        if text.count("[") + text.count("{") > MAX_DEPTH:
            _check_flow_depth(path, text)
        if len(text) > _PRESCAN_CHARS:
            _check_depth(path, text)
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        ctx = exc.context_mark
        if exc.problem and exc.context and ctx is not None and mark is not None and ctx.line != mark.line:
            # e.g. an unclosed bracket: the error shows where parsing gave up; say where it began too
            problem += f" ({exc.context} that starts at line {ctx.line + 1}, column {ctx.column + 1})"
        hint = "check indentation and quoting around this place"
        lines = text.split("\n")
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            problem = f"a tab character here ({problem})" if "tab" not in problem else problem
            hint = "YAML indents with spaces only: replace the tab with spaces"
        raise UserError(f"YAML syntax error: {problem}", location=Location(display_path(path), line, col), hint=hint) from None
    except yaml.YAMLError as exc:
        raise UserError(f"YAML error: {exc}", location=Location(display_path(path))) from None
    if node is None:
        raise UserError("file is empty", location=Location(display_path(path), 1, 1), hint="a YAML mapping is expected")
    builder.doc.data = builder.build(node, ())
    if not isinstance(builder.doc.data, dict):
        raise builder.fail(node, "expected a YAML mapping at the top level", ())
    return builder.doc


# --- pydantic errors, located in the YAML document they came from ------------------------------------


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    value = err.get("input")
    if isinstance(value, str | int | float | bool) and kind not in ("assertion_error",):
        # Say what was written: "Input should be a valid integer, got 'many'".
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        msg += f", got {shown}"
    return msg


def validation_errors(exc: ValidationError, doc: YamlDocument, prefix: KeyPath = ()) -> list[UserError]:
    """pydantic errors -> located UserErrors (one per problem, the most specific place first)."""
    out: list[UserError] = []
    seen: set[tuple[KeyPath, str]] = set()
    for err in exc.errors(include_url=False):
        loc: KeyPath = prefix + tuple(p for p in err["loc"] if isinstance(p, str | int))
        # Union members add their type name to the path (e.g. 'float', 'int'); drop those.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in _UNION_TAGS))
        msg = _message(err)
        if (loc, msg) in seen:
            continue
        seen.add((loc, msg))
        at_key = err["type"] == "extra_forbidden"
        out.append(UserError(msg, location=doc.locate(loc, at_key=at_key)))
    return out


_UNION_TAGS = {"float", "int", "str", "bool", "date", "datetime", "function-after[_strings_only_for_equality()]"}


def _all_fields_of(model: type[BaseModel]) -> list[str]:
    names: set[str] = set()
    stack: list[type[BaseModel]] = [model]
    seen: set[type[BaseModel]] = set()
    while stack:
        m = stack.pop()
        if m in seen:
            continue
        seen.add(m)
        names.update(m.model_fields)
        for f in m.model_fields.values():
            for arg in _model_types(f.annotation):
                stack.append(arg)
    return sorted(names)


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    import typing

    out: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.append(annotation)
    for arg in typing.get_args(annotation):
        out.extend(_model_types(arg))
    return out


def _typo_hint(key: str, model: type[BaseModel]) -> str | None:
    import difflib

    close = difflib.get_close_matches(key, _all_fields_of(model), n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else None


def located(
    exc: ValidationError,
    doc: YamlDocument,
    model: type[BaseModel],
    prefix: KeyPath = (),
    fallback: str = "remove it, or check its spelling against `registry schema`",
) -> list[UserError]:
    errors = validation_errors(exc, doc, prefix)
    for e in errors:
        if e.message == "unknown key" and e.location and e.location.key:
            key = e.location.key.rsplit(".", 1)[-1]
            e.hint = _typo_hint(key, model) or fallback
    return errors
