"""The fast verdict dumper gives the bytes of PyYAML's own, also where it hands over to PyYAML."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from registry.verdicts.dumper import FastDumper, PureDumper


def dump(data: Any, dumper: type[yaml.SafeDumper]) -> str:
    return yaml.dump(data, Dumper=dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)


SHARED = {"a": 1}

CASES = {
    "scalars": {"t": True, "f": False, "none": None, "int": -3, "big": 10**20, "float": 1e17, "small": 1.5e-9,
                "inf": math.inf, "-inf": -math.inf, "nan": math.nan, "zero": 0.0},
    "texts that look like other types": ["true", "null", "1.0", "0x1f", "~", "", "yes", " lead", "a: b", "- x", "#"],
    "multi-line and unicode": {"reason": "line one\nline two\n", "name": "Ωμέγα ✓", "tab": "a\tb"},
    "nesting and empty containers": {"z": [], "y": {}, "x": [{"b": [1, [2, {}]], "a": "q"}], "w": [[]]},
    "a long line": {"s": "word " * 60},
    "a container seen twice (PyYAML writes an alias)": {"one": SHARED, "two": SHARED},
    "keys that do not sort together": {1: "int key", "s": "str key"},
    "a tuple": {"t": (1, 2)},
}


@pytest.mark.parametrize("data", CASES.values(), ids=list(CASES))
def test_fast_dumper_writes_the_reference_bytes(data: Any) -> None:
    assert dump(data, FastDumper) == dump(data, PureDumper)


def test_alias_is_kept() -> None:
    assert "&id001" in dump({"one": SHARED, "two": SHARED}, FastDumper)
