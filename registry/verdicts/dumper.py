"""The YAML dumpers of verdict files: PyYAML's pure-Python one (the reference) and a fast one that
renders the same bytes (used where registry/verdicts/emit.py, the direct writer, hands over). Not
for every input: libyaml writes an empty key, a character outside the BMP or a key of 123-128
characters otherwise than PyYAML (none has been in a verdict; tests/verdicts/test_emit.py).

The fast dumper emits with libyaml's C emitter, and builds the node tree itself for the plain data
a verdict is (`canonical`: dicts with str keys, lists, str, int, float, bool, None), skipping PyYAML's
per-node alias bookkeeping and type lookup; it also remembers the implicit tag of each scalar text,
which the C emitter asks the (Python) resolver twice per scalar. In a 300-run x 20-claim sweep
these were half the time of writing the verdicts (issue 14). Anything else (a container seen twice,
which PyYAML would write as an alias; a type it does not know) goes through PyYAML's own
representer, so the bytes stay the reference's; tests/verdicts compares both on every shipped verdict.
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar(_STR, data, style=style)


class PureDumper(yaml.SafeDumper):
    """PyYAML's pure-Python emitter and representer: the reference the fast dumper is checked against."""


class _Reused(Exception):
    """A container met twice: PyYAML would write an anchor and an alias, so the reference path renders it."""


# Implicit tags by (scalar text, implicit flags): the same few keys and values recur in every verdict.
_RESOLVED: dict[tuple[str, Any], str | None] = {}
_RESOLVED_MAX = 100_000


class FastDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter with a direct node builder for plain data (see the module's docstring)."""

    def represent(self, data: Any) -> None:
        if self.default_flow_style is None:  # PyYAML would choose a style per container
            node = self.represent_data(data)
        else:
            try:
                node = self._node(data, set())
            except _Reused:
                node = self.represent_data(data)
        self.serialize(node)
        self.represented_objects.clear()
        self.object_keeper.clear()
        self.alias_key = None

    def _node(self, data: Any, seen: set[int]) -> Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, data, style="|" if "\n" in data else self.default_style)
        if kind is dict or kind is list:
            if id(data) in seen:
                raise _Reused
            seen.add(id(data))
            if kind is list:
                return SequenceNode(_SEQ, [self._node(item, seen) for item in data], flow_style=self.default_flow_style)
            items = list(data.items())
            if self.sort_keys:
                with contextlib.suppress(TypeError):  # as PyYAML: keys that do not compare stay in order
                    items = sorted(items)
            pairs = [(self._node(k, seen), self._node(v, seen)) for k, v in items]
            return MappingNode(_MAP, pairs, flow_style=self.default_flow_style)
        scalar: Node = self.represent_data(data)  # never aliased
        return scalar

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) >= _RESOLVED_MAX:
                _RESOLVED.clear()
            tag = _RESOLVED[key] = super().resolve(kind, value, implicit)
        return tag


for _cls in (FastDumper, PureDumper):
    _cls.add_representer(str, _str_presenter)
