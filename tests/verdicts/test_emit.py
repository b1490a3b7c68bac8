"""The direct verdict writer (registry/verdicts/emit.py) writes PyYAML's pure-Python bytes, or hands over.

Its output is compared with `yaml.dump(canonical(data), Dumper=PureDumper, ...)` (what `render` would
write the reference way) on every shipped and golden verdict, on generated data from a hostile
alphabet, and on generated verdicts; and it must actually write typical verdicts (no silent hand-over).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.verdicts import emit, file
from registry.verdicts.dumper import FastDumper, PureDumper
from registry.verdicts.file import HEADER, dumped, read_verdict, render
from registry.verdicts.model import Verdict, canonical

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "verdicts").rglob("*.yaml"))
GOLDEN = sorted((FIXTURES / "golden").glob("*.basic.v*.yaml"))


def reference(data: Any) -> str:
    return yaml.dump(canonical(data), Dumper=PureDumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)


def direct(data: Any) -> str | None:
    return emit.dump(data, {})


SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def test_every_shipped_and_golden_verdict_is_written_directly_with_the_reference_bytes() -> None:
    assert len(SHIPPED) > 50 and len(GOLDEN) == 3
    for path in [*SHIPPED, *GOLDEN]:
        verdict = read_verdict(path)
        text = emit.dump(verdict, file.UNSET_BY_MODEL)
        assert text is not None, f"{path}: handed over to libyaml"
        assert HEADER + text == dumped(verdict, PureDumper), path
        if path in SHIPPED or path == GOLDEN[-1]:  # v1 and v2 goldens are rewritten as v3 by evaluate
            assert (HEADER + text).encode("utf-8") == path.read_bytes(), path


def test_render_takes_the_direct_path_for_a_typical_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts = [read_verdict(p) for p in SHIPPED[:5]]
    expected = [render(v) for v in verdicts]

    def no_dump(*args: Any) -> str:
        raise AssertionError("rendered through model_dump and PyYAML")

    monkeypatch.setattr(file, "dumped", no_dump)
    assert [render(v) for v in verdicts] == expected


# Written directly (these must not hand over) with PyYAML's bytes: quoting, floats, ints, nesting.
COVERED = {
    "strings libyaml quotes": {"a": ["2", ">", ">=", "1.0", "null", "~", "", "yes", "On", "0x10", "0o7", "+1", "1_000", ".5"]},
    "more strings to quote": {"b": ["2026-11-30", "1e3", "<<", "=", "- x", "-", "it's", "'q'", '"dq"', "#c", "a: b", "a:"]},
    "strings written plain": {"c": ["<=", "a #b", "a#b", "-x", ":x", "x:y", "blocks.*.hook:lens", "run-0001", "a b", "% x"]},
    "keys that need quotes": {"true": 1, "1": 2, "a: b": 3, "'": 4, "-": 5, "null": 6, "x y": 7},
    "floats": {"f": [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e16, 1e17, 1e-7, 5e-324, 1.0e-05, 0.1, 1 / 3, -2.5e300]},
    "ints and others": {"i": [0, -3, 10**30, -(2**64)], "b": [True, False], "n": None},
    "nesting and empty containers": {"z": [], "y": {}, "x": [{"b": [1, [2, {}]], "a": "q"}], "w": [[]], "v": [[[1]], {"k": []}]},
    "a shared container (canonical copies it: no alias)": {"one": (shared := {"a": [1]}), "two": shared},
    "a tuple": {"t": (1, (2, 3))},
    "a long string without spaces": {"s": "x" * 300},
    "a string with spaces ending at column 100": {"key": "ab " * 30 + "abcde"},
}


@pytest.mark.parametrize("data", COVERED.values(), ids=list(COVERED))
def test_covered_data_is_written_with_the_reference_bytes(data: Any) -> None:
    text = direct(data)
    assert text is not None
    assert text == reference(data)


# Handed over to the reference way (None): what the writer does not prove.
HANDED_OVER = {
    "non-ASCII": {"a": "Ωμέγα"},
    "a line break (literal block)": {"a": "one\ntwo"},
    "a tab": {"a": "a\tb"},
    "a string with spaces past column 100": {"key": "ab " * 30 + "abcdef"},
    "an empty key": {"": 1},
    "a key longer than 100": {"k" * 101: 1},
    "a key that is not a string": {1: "x"},
    "a numpy float": {"a": np.float64(0.5)},
    "a set": {"a": {1}},
    "an empty root": {},
    "a list root": [1],
    "a model in a plain dict": {"v": read_verdict(GOLDEN[-1])},
}


@pytest.mark.parametrize("data", HANDED_OVER.values(), ids=list(HANDED_OVER))
def test_what_is_not_proven_is_handed_over(data: Any) -> None:
    assert direct(data) is None


def test_a_verdict_with_unsupported_evidence_is_rendered_the_reference_way() -> None:
    verdict = read_verdict(GOLDEN[-1])
    prediction = verdict.predictions[0].model_copy(update={"evidence": {"note": "Ωμέγα\nline two", "nested": {"x": ["é"]}}})
    odd = verdict.model_copy(update={"predictions": [prediction, *verdict.predictions[1:]]})
    assert emit.dump(odd, file.UNSET_BY_MODEL) is None
    assert render(odd) == render(odd, pure_python=True)


# --- generated data -------------------------------------------------------------------------------
# Where the writer hands over, libyaml's bytes are not always PyYAML's (an empty key, a character
# outside the BMP, a key of 123 to 128 characters): the generated tests check the direct path, which
# must give both.

ASCII_TOKENS = [
    ":", "#", "'", '"', "- ", "-", " ", "  ", "? ", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "<", "=", "%", "@",
    "`", "---", "...", ".", "/", "_", "yes", "no", "on", "off", "Y", "n", "null", "Null", "~", "true", "False", "1e3",
    "0x10", "0o7", "0b1", ".5", "+1", "1_000", "2026-11-30", "2026-11-30 10:00:00", "1:20", "<<", ".inf", "-.inf", ".nan",
    "1.0", "2", "0", "a", "b", "Z",
]
OTHER_TOKENS = ["\t", "\n", "\r", "\x00", "\x85", "\u2028", "\ufeff", "é", "✓", "\U0001f600"]
ASCII_TEXT = (
    st.lists(st.sampled_from(ASCII_TOKENS), max_size=8).map("".join)
    | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
    | st.builds(lambda n, unit: (unit * 60)[:n], st.integers(60, 130), st.sampled_from(["ab ", "a b", "x  ", "' "]))
)
TEXT = ASCII_TEXT | st.lists(st.sampled_from(ASCII_TOKENS + OTHER_TOKENS), max_size=8).map("".join) | st.text(max_size=12)
FLOATS = st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e16, 1e-7, 5e-324, 1e17, 0.1, 123456789.1234567])
INTS = st.integers() | st.sampled_from([10**20, -(10**40), 2**64])


def nested(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = text | FLOATS | INTS | st.booleans() | st.none()
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=16
    )


ROOT = st.dictionaries(ASCII_TEXT, nested(ASCII_TEXT), min_size=1, max_size=6) | st.dictionaries(
    TEXT, nested(TEXT), min_size=1, max_size=6
)


def libyaml(data: Any) -> str:
    return yaml.dump(canonical(data), Dumper=FastDumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)


@SETTINGS
@given(ROOT)
def test_generated_data_is_written_with_the_reference_bytes_or_handed_over(data: dict[str, Any]) -> None:
    text = direct(data)
    if text is not None:
        assert text == reference(data)
        assert text == libyaml(data)  # what render wrote before the direct writer


@SETTINGS
@given(st.lists(st.text(alphabet="ab :#'-.", max_size=12) | TEXT, min_size=1, max_size=8))
def test_generated_short_strings_are_written_with_the_reference_bytes(texts: list[str]) -> None:
    """Short printable-ASCII strings are always covered, as values and as keys."""
    data = {"values": texts, **{t: 0 for t in texts if t}}
    text = direct(data)
    if all(t.isascii() and t.isprintable() and len(t) <= 40 for t in texts):
        assert text is not None
    if text is not None:
        assert text == reference(data)


@SETTINGS
@given(FLOATS, INTS)
def test_generated_numbers_are_written_with_the_reference_bytes(x: float, i: int) -> None:
    data = {"x": x, "xs": [x, {"x": x}], "i": i}
    text = direct(data)
    assert text is not None
    assert text == reference(data)


BASE = yaml.safe_load(GOLDEN[-1].read_text())
ANY_TEXT = ASCII_TEXT | TEXT


@settings(SETTINGS, max_examples=150)
@given(
    evidence=st.dictionaries(ANY_TEXT, nested(ASCII_TEXT), max_size=4),
    statistics=st.dictionaries(ASCII_TEXT, ANY_TEXT | FLOATS | INTS | st.booleans() | st.none(), max_size=4),
    reason=st.none() | ASCII_TEXT,
    observed=ASCII_TEXT | FLOATS | INTS | st.booleans() | st.none(),
    names=st.lists(ASCII_TEXT, max_size=3),
    run_id=ASCII_TEXT,
)
def test_generated_verdicts_are_written_with_the_reference_bytes(
    evidence: dict[str, Any], statistics: dict[str, Any], reason: str | None, observed: Any, names: list[str], run_id: str
) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    prediction = data["predictions"][0]
    prediction.update(evidence=evidence, statistics=statistics, reason=reason, artifacts=names)
    prediction["expect"][0]["observed"] = observed
    data["run"]["id"] = run_id
    data["run"]["artifacts"] = {n: {"path": n, "sha256": "0" * 64, "reader": None} for n in names}
    verdict = Verdict.model_validate(data)
    text = emit.dump(verdict, file.UNSET_BY_MODEL)
    if text is not None:
        assert render(verdict) == HEADER + text == dumped(verdict, PureDumper) == dumped(verdict, FastDumper)
    else:
        assert render(verdict) == dumped(verdict, FastDumper)
