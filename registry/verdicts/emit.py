"""A direct YAML writer for verdict files: the bytes of `yaml.dump(canonical(data), Dumper=PureDumper,
sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)`, written straight from the
data (and from the verdict's models, without `model_dump`), or None when it cannot prove them.

Why: in a 300-run x 20-claim sweep, `model_dump` + `canonical` + the libyaml dumper cost ~0.3 ms per
verdict (issue 14); a verdict is plain data in a fixed block layout, which a few string joins write.

What it writes (PyYAML's emitter, yaml/emitter.py, in block context with these options):
- mappings: one `key: value` line per key, keys sorted, nested mappings indented by 2; a mapping in
  a sequence starts on the `- ` line; a sequence in a mapping is not indented (`- ` at the key's
  column), a sequence in a sequence starts on the `- ` line; empty containers as `[]` and `{}`;
- scalars as `SafeRepresenter` represents them after `canonical` (floats rounded to 12 digits,
  -0.0 as 0.0, `.nan`/`.inf`/`-.inf`, `.0` inserted in `1.0e-05`), `true`/`false`, `null`, ints;
- strings: printable ASCII on one line only. PyYAML's own resolver and `analyze_scalar` (of a
  PureDumper, cached per string) decide plain or single-quoted (`'` doubled) as `choose_scalar_style`
  does; a string with a space must end by column 100 (no folding), a key must be <= 100 characters
  (a simple key).
Anything else (non-ASCII, a line break or tab, a long string with spaces at its column, an unknown
type, a model class not named by the caller, a model where a field typed `Any` holds one) returns
None, and the caller renders the reference way: correctness never depends on what is covered here.
tests/verdicts/test_emit.py compares it with PureDumper on every shipped verdict and on generated data.
"""

from __future__ import annotations

import io
import re
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import BaseModel
from yaml.nodes import ScalarNode

from registry.verdicts.dumper import PureDumper
from registry.verdicts.model import round_float

WIDTH = 100
"""yaml.dump's `width` in `registry.verdicts.file.render`: a plain or quoted scalar may be folded at a
space once its line is past this column."""
_STR = "tag:yaml.org,2002:str"
_INF = float("inf")

# The reference emitter and resolver: only `analyze_scalar` (which reads `allow_unicode`) and
# `resolve` are called, on strings outside the quick pattern below, once per string.
_REF = PureDumper(io.StringIO(), allow_unicode=True, width=WIDTH, default_flow_style=False)
# No indicator, space, quote or `:`/`#` anywhere, and not `-`/`.` first (`- `, `---`, `...`): always
# allowed plain by analyze_scalar; only the resolver may still make it a non-string (`true`, `1e3`).
_QUICK = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*")
_resolve: Callable[[type[ScalarNode], str, tuple[bool, bool]], str] = _REF.resolve
# The first characters the resolver looks at (read at import); with a resolver for any first character
# (key None), every string is asked.
_RESOLVED_FIRST = frozenset(k for k in _REF.yaml_implicit_resolvers if k) | {""}
_ASK_ALL = None in _REF.yaml_implicit_resolvers

_VALUES: dict[str, str | None] = {}
_KEYS: dict[str, str | None] = {}
_CACHE_MAX = 50_000


class _Unproven(Exception):
    """Something this writer does not cover: the caller renders the reference way."""


def dump(data: Any, models: Mapping[type[BaseModel], Collection[str]]) -> str | None:
    """The YAML text of `data` (a non-empty dict, or a model of a class in `models`), or None when
    not proven identical to the reference. A model is written as `canonical(model_dump())` would be,
    less its fields named in `models[class]` that are None."""
    out: list[str] = []
    ok: frozenset[type] | dict[str, frozenset[type]]
    try:
        if type(data) is dict:
            items, ok = _dict_items(data), _NONE
        elif type(data) in models:
            items, ok = _model_items(data, models)
        else:
            return None
        if not items:
            return None  # `{}`
        _mapping(items, 0, "", out, models, ok)
    except (_Unproven, RecursionError, ValueError, KeyError):  # an int too long for str(), a field unset
        return None
    out.append("\n")
    return "".join(out)


def _node(v: Any, ind: int, col: int, in_map: bool, out: list[str], models: Any, ok: frozenset[type]) -> None:
    """`v` after `key:` (in_map; `ind` the mapping's indentation) or after `-` (`ind` the sequence's);
    `col` is the column after that indicator; `ok`: the model classes its field's type names."""
    kind = type(v)
    if kind is str:
        text = _VALUES.get(v) or _value_text(v)
        if col + 1 + len(text) > WIDTH and " " in text:
            raise _Unproven  # PyYAML could fold it at a space
        out.append(f" {text}")
    elif kind is float:
        out.append(f" {_float(v)}")
    elif kind is bool:
        out.append(" true" if v else " false")
    elif kind is int:
        out.append(f" {v}")
    elif v is None:
        out.append(" null")
    elif kind is dict or kind is list or kind is tuple:
        if not v:
            out.append(" {}" if kind is dict else " []")
        elif kind is dict:
            _mapping(_dict_items(v), ind + 2, "\n" + " " * (ind + 2) if in_map else " ", out, models, ok)
        else:
            inner = ind if in_map else ind + 2  # a sequence in a mapping is not indented
            _sequence(v, inner, "\n" + " " * inner if in_map else " ", out, models, ok)
    elif kind in ok:
        items, flags = _model_items(v, models)
        if not items:
            raise _Unproven
        _mapping(items, ind + 2, "\n" + " " * (ind + 2) if in_map else " ", out, models, flags)
    else:
        raise _Unproven


def _mapping(items: list[tuple[str, Any]], ind: int, lead: str, out: list[str], models: Any, ok: Any) -> None:
    """`ok`: the model classes that may appear below, for all items (a set) or per key (a model's fields)
    Scalars are written here rather than by `_node`: most values are scalars."""
    pad = "\n" + " " * ind
    flags = ok if type(ok) is dict else None
    for key, v in items:
        text = (_KEYS.get(key) if type(key) is str else None) or _key_text(key)
        kind = type(v)
        if kind is str:
            value = _VALUES.get(v) or _value_text(v)
            if " " in value and ind + len(text) + 1 + len(value) > WIDTH:
                raise _Unproven  # PyYAML could fold it at a space
            out.append(f"{lead}{text} {value}")
        elif kind is float:
            out.append(f"{lead}{text} {_float(v)}")
        elif kind is int:
            out.append(f"{lead}{text} {v}")
        elif kind is bool:
            out.append(f"{lead}{text} {'true' if v else 'false'}")
        elif v is None:
            out.append(f"{lead}{text} null")
        else:
            out.append(lead + text)
            _node(v, ind, ind + len(text), True, out, models, ok if flags is None else flags[key])
        lead = pad


def _sequence(items: list[Any] | tuple[Any, ...], ind: int, lead: str, out: list[str], models: Any, ok: frozenset[type]) -> None:
    pad = "\n" + " " * ind + "-"
    lead += "-"
    for item in items:
        out.append(lead)
        lead = pad
        _node(item, ind, ind + 1, False, out, models, ok)


def _dict_items(d: dict[Any, Any]) -> list[tuple[str, Any]]:
    try:
        return sorted(d.items())
    except TypeError:
        raise _Unproven from None  # keys that do not sort together (not all strings)


def _model_items(model: BaseModel, models: Any) -> tuple[list[tuple[str, Any]], dict[str, frozenset[type]]]:
    info = _MODELS.get(type(model))
    if info is None or info[0] is not models:
        info = _MODELS[type(model)] = (models, *_model_info(type(model), models))
    _, names, unset, flags = info
    values = model.__dict__
    return [(n, values[n]) for n in names if not (n in unset and values[n] is None)], flags


_MODELS: dict[type[BaseModel], tuple[Any, list[str], frozenset[str], dict[str, frozenset[type]]]] = {}
_NONE: frozenset[type] = frozenset()


def _model_info(cls: type[BaseModel], models: Any) -> tuple[list[str], frozenset[str], dict[str, frozenset[type]]]:
    """A model class's fields (sorted), those left out when None, and the model classes each field's
    type names (none below `Any`: there `model_dump` writes any model, and the caller's rules for
    leaving fields out do not apply). Raises _Unproven unless `model_dump()` is just its fields."""
    if cls not in models or cls.model_computed_fields or cls.model_config.get("extra") == "allow":
        raise _Unproven
    if cls.model_config.get("serialize_by_alias"):
        raise _Unproven
    decorators = cls.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        raise _Unproven
    fields = cls.model_fields
    if any(f.exclude or f.metadata for f in fields.values()):
        raise _Unproven  # left out, or an annotated serializer or constraint: not checked here
    flags = {name: _model_classes(f.annotation) for name, f in fields.items()}
    return sorted(fields), frozenset(models[cls]), flags


def _model_classes(annotation: Any) -> frozenset[type]:
    found: set[type] = set()
    todo = [annotation]
    while todo:
        tp = todo.pop()
        if tp is Any or tp is object:
            return _NONE
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found.add(tp)
        todo.extend(typing.get_args(tp))
    return frozenset(found)


def _float(x: float) -> str:
    """`canonical`, then `SafeRepresenter.represent_float`: its text always resolves back to a float
    (`repr` has a `.` or an exponent, and gets `.0` before a bare `e`), so it is written plain."""
    if x != x:
        return ".nan"
    if x == _INF:
        return ".inf"
    if x == -_INF:
        return "-.inf"
    text = repr(round_float(x)).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _value_text(s: str) -> str:
    if s in _VALUES:
        raise _Unproven  # known not to be covered
    text = _remember(_VALUES, s, _style(s))
    if text is None:
        raise _Unproven
    return text


def _key_text(key: Any) -> str:
    if type(key) is not str:
        raise _Unproven  # `canonical` would turn it into a string: the reference path does
    if key in _KEYS:
        raise _Unproven
    # A simple key is shorter than 128 characters with its tag (`!!str`), and not empty.
    text = _style(key) if 0 < len(key) <= WIDTH else None
    text = _remember(_KEYS, key, None if text is None else text + ":")
    if text is None:
        raise _Unproven
    return text


def _style(s: str) -> str | None:
    """`s` as PyYAML writes it with no folding (`choose_scalar_style` in block context for an implicit
    string): plain when it resolves back to a string and `analyze_scalar` allows block plain, else
    single-quoted when allowed; None for anything that is not printable ASCII on one line."""
    if not (s.isascii() and s.isprintable()):  # no line break, tab, control or non-ASCII character
        return None
    quick = _QUICK.fullmatch(s) is not None
    if quick and s[0] not in _RESOLVED_FIRST and not _ASK_ALL:
        return s
    implicit = _resolve(ScalarNode, s, (True, False)) == _STR
    analysis = None if quick else _REF.analyze_scalar(s)
    if implicit and (analysis is None or analysis.allow_block_plain):
        return s
    if analysis is None or analysis.allow_single_quoted:
        return "'" + s.replace("'", "''") + "'"
    return None


def _remember(cache: dict[str, str | None], s: str, text: str | None) -> str | None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[s] = text
    return text
