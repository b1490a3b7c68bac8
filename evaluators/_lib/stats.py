"""Shorthands for declaring common kinds of statistic (`registry.Stat`)."""

from __future__ import annotations

import math

from registry import Stat


def count(name: str, doc: str) -> Stat:
    """A count: an int that is never negative."""
    return Stat(name, doc, range=(0, math.inf), type=int)


def fraction(name: str, doc: str, *, rate: bool = False) -> Stat:
    """A fraction in [0, 1]; `rate`: a rate over the measurement's n observations."""
    return Stat(name, doc, range=(0, 1), rate=rate)


def p_value(doc: str = "p-value of the test.") -> Stat:
    return Stat("p_value", doc, range=(0, 1))
