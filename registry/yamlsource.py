"""The one YAML loader: safe YAML reading that remembers where every value came from.

Every YAML text the registry reads goes through `load_yaml`: claim files, run.yaml, verdict files,
claim versions read from git, MLflow's meta.yaml. `located` and `validation_errors` turn a pydantic
error into UserErrors at the file, line, column and key path where the value was written.

PyYAML composes the document into nodes (which carry line/column marks); we construct plain
Python values from those nodes ourselves so that we can
- refuse any tag outside YAML's core schema (no `!!python/object`),
- refuse duplicate mapping keys,
- bound alias expansion (a "billion laughs" file is refused from the event stream before it is composed,
  registry/yamlscan.py; the node count while building stays as a second guard),
- construct every scalar inside the guard (a bad date or `!!int x` is a located error),
- refuse files over MAX_BYTES and anything that is not a regular file,
- and keep a map from each value's key path to its line and column for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from registry.errors import Location, UserError, display_path, quoted
from registry.yamlscan import LOADER, MAX_DEPTH, MAX_NODES, check_flow_depth, prescan

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
# Bytes read per YAML file (a claim file is a few KB; verdict files stay far below): a larger file is
# refused before it is parsed.
MAX_BYTES = 1 << 20

KeyPath = tuple[str | int, ...]


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
        is_map = isinstance(node, yaml.MappingNode)
        if not isinstance(node, yaml.ScalarNode) and node.tag != _YAML_TAG + ("map" if is_map else "seq"):
            kind = "a mapping" if is_map else "a list"
            raise self.fail(node, f"tag {'!!' + node.tag[len(_YAML_TAG):]!r} does not fit {kind}", key_path,
                            "only plain YAML values are read; remove the tag")
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
        return self.scalar(node, key_path)

    def scalar(self, node: yaml.Node, key_path: KeyPath) -> Any:
        """A scalar's value; one that its tag cannot read (`2026-02-30`, `!!int x`, a 5,000-digit
        integer, `!!map` on a string) is a located error, never a crash."""
        try:
            return self._scalars.construct_object(node, deep=True)
        except Exception as exc:  # PyYAML's constructors raise ValueError, KeyError, AttributeError...
            tag = "!!" + node.tag[len(_YAML_TAG) :] if node.tag.startswith(_YAML_TAG) else node.tag
            why = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
            detail = f" ({why})" if why and isinstance(exc, ValueError | yaml.MarkedYAMLError) else ""
            raise self.fail(
                node,
                f"{quoted(str(node.value), 40)} is not a valid {tag} value{detail}",
                key_path,
                "quote the value to make it a string, or correct it",
            ) from None


def _read_text(path: Path) -> str:
    """The file's text: a regular file (not a FIFO or a device, which could block), at most MAX_BYTES, UTF-8."""
    import stat

    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise UserError("not a regular file", location=Location(display_path(path)),
                            hint="claim files and manifests are plain files")
        if st.st_size > MAX_BYTES:
            raise UserError(f"file is {st.st_size:,} bytes, more than the {MAX_BYTES:,} a YAML file may have",
                            location=Location(display_path(path)), hint="claim files and manifests are small; split it")
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror or exc}", location=Location(display_path(path))) from None
    if len(raw) > MAX_BYTES:  # grew since stat
        raise UserError(f"file is more than the {MAX_BYTES:,} bytes a YAML file may have",
                        location=Location(display_path(path)), hint="claim files and manifests are small; split it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        bad_col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            location=Location(display_path(path), bad_line, bad_col),
            hint="save the file as UTF-8",
        ) from None


def _syntax_error(path: Path, exc: yaml.YAMLError, text: str) -> UserError:
    if isinstance(exc, yaml.reader.ReaderError):
        # A character YAML does not allow (a control character, say): located from its position.
        pos = max(0, min(int(exc.position), len(text)))
        at = (text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        return UserError(f"YAML syntax error: character {chr(code)!r} is not allowed",
                         location=Location(display_path(path), *at),
                         hint=f"remove it, or write it as an escape inside double quotes (\"\\x{code:02x}\")")
    if isinstance(exc, yaml.MarkedYAMLError):
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
        return UserError(f"YAML syntax error: {problem}", location=Location(display_path(path), line, col), hint=hint)
    return UserError(f"YAML error: {exc}", location=Location(display_path(path), 1, 1))


def load_yaml(path: Path, *, text: str | None = None) -> YamlDocument:
    """Read `path` as one YAML document; every problem is a located :class:`UserError`."""
    if text is None:
        text = _read_text(path)
    elif len(text) > MAX_BYTES:
        raise UserError(f"file is more than the {MAX_BYTES:,} bytes a YAML file may have", location=Location(display_path(path)))
    builder = _Builder(path)
    try:
        if text.count("[") + text.count("{") > MAX_DEPTH:
            check_flow_depth(path, text)
        if len(text) > _PRESCAN_CHARS or "*" in text:
            prescan(path, text)
        node = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc, text) from None
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
