"""Verdicts for CI systems: JUnit XML (one testcase per (claim, run)), GitHub workflow annotations at
the claim file's line, and a markdown step summary. Deterministic: no timestamps, no host names."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.errors import display_path

if TYPE_CHECKING:
    from registry.language.loaded import LoadedClaim
    from registry.verdicts.model import PredictionVerdict, Verdict


@dataclass(frozen=True)
class Site:
    """Where a verdict points in its claim file: the first expect line that does not hold, or the first
    prediction not judged, else the claim."""

    file: str
    line: int


def _num(x: object) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def where(v: Verdict) -> str:
    return v.run.id if v.run is not None else f"across {len(v.runs or [])} runs"


def prediction_line(p: PredictionVerdict) -> str:
    """One prediction as a sentence: what was observed against what was expected, or why it was not judged."""
    if p.outcome in ("pass", "fail"):
        shown = ", ".join(f"{e.stat}={_num(e.observed)} (expected {e.op} {_num(e.value)})" for e in p.expect)
        return f"{p.id}: {p.outcome}: {shown}; n={p.n}"
    return f"{p.id}: {p.outcome}: {p.reason}"


def site(v: Verdict, claims: dict[str, LoadedClaim]) -> Site | None:
    lc = claims.get(v.claim.id)
    if lc is None:
        return None
    index = {p.id: i for i, p in enumerate(lc.claim.predictions)}
    for p in v.predictions:
        if p.outcome in ("fail", "error", "inconclusive") and p.id in index:
            key: tuple[str | int, ...] = ("predictions", index[p.id])
            broken = [j for j, e in enumerate(p.expect) if e.holds is False]
            if p.outcome == "fail" and broken:
                key += ("expect", broken[0])  # the expect line that does not hold
            loc = lc.doc.locate(key)
            return Site(display_path(lc.path), loc.line or 1)
    loc = lc.doc.locate(("id",))
    return Site(display_path(lc.path), loc.line or 1)


def _bad(v: Verdict, outcome: str) -> list[PredictionVerdict]:
    return [p for p in v.predictions if p.outcome == outcome]


def junit_xml(verdicts: list[Verdict], claims: dict[str, LoadedClaim]) -> str:
    """JUnit XML: fail -> <failure>, inconclusive -> <skipped> with the reason, error -> <error>."""
    from xml.sax.saxutils import quoteattr

    counts = Counter(v.outcome for v in verdicts)
    head = (
        f'tests="{len(verdicts)}" failures="{counts["fail"]}" errors="{counts["error"]}" '
        f'skipped="{counts["inconclusive"]}" time="0"'
    )
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<testsuites name="claims-registry" {head}>']
    out.append(f'  <testsuite name="claims-registry" {head}>')
    for v in verdicts:
        s = site(v, claims)
        name = quoteattr(f"{v.claim.id} on {where(v)}")
        out.append(f'    <testcase classname={quoteattr(v.claim.id)} name={name} time="0">')
        detail = "\n".join(prediction_line(p) for p in v.predictions) + (f"\n{s.file}:{s.line}" if s else "")
        if v.outcome in ("fail", "error"):
            tag = "failure" if v.outcome == "fail" else "error"
            first = (_bad(v, v.outcome) or v.predictions)[0] if v.predictions else None
            message = prediction_line(first) if first is not None else v.outcome
            out.append(f"      <{tag} type={quoteattr(v.outcome)} message={quoteattr(message)}>{_text(detail)}</{tag}>")
        elif v.outcome == "inconclusive":
            reasons = "; ".join(f"{p.id}: {p.reason}" for p in _bad(v, "inconclusive")) or "inconclusive"
            out.append(f"      <skipped message={quoteattr(reasons)}>{_text(detail)}</skipped>")
        else:
            out.append(f"      <system-out>{_text(detail)}</system-out>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def _text(s: str) -> str:
    from xml.sax.saxutils import escape

    return escape(s)


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def github_annotations(verdicts: list[Verdict], claims: dict[str, LoadedClaim]) -> list[str]:
    """Workflow commands: `::error` for fail and error, `::warning` for inconclusive, at the claim file's line."""
    lines = []
    for v in verdicts:
        if v.outcome == "pass":
            continue
        level = "warning" if v.outcome == "inconclusive" else "error"
        s = site(v, claims)
        place = f"file={_gh_prop(s.file)},line={s.line}," if s else ""
        title = _gh_prop(f"{v.claim.id} on {where(v)}: {v.outcome}")
        message = "\n".join(prediction_line(p) for p in v.predictions if p.outcome != "pass") or v.outcome
        lines.append(f"::{level} {place}title={title}::{_gh_data(message)}")
    return lines


def step_summary(verdicts: list[Verdict], unmatched: list[str]) -> str:
    """A markdown summary for `$GITHUB_STEP_SUMMARY`: counts, then one row per verdict that is not a pass."""
    counts = Counter(v.outcome for v in verdicts)
    lines = ["### Claims registry", ""]
    lines.append(f"{len(verdicts)} verdict(s): " + (", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "none") + ".")
    shown = [v for v in verdicts if v.outcome != "pass"]
    if shown:
        lines += ["", "| claim | run | outcome | predictions |", "| --- | --- | --- | --- |"]
        for v in shown:
            preds = "<br>".join(_cell(prediction_line(p)) for p in v.predictions)
            lines.append(f"| `{_cell(v.claim.id)}` | `{_cell(where(v))}` | **{v.outcome}** | {preds} |")
    if unmatched:
        lines += ["", "Applies to no run: " + ", ".join(f"`{c}`" for c in unmatched)]
    return "\n".join(lines) + "\n"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")
