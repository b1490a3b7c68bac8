"""`registry report`: the site's files, what a claim page shows, and rebuilding without rewriting."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, invoke

from registry.report import files
from registry.report.downsample import downsample


def _figures(page: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    text = page.read_text()
    found = re.findall(r'<script type="application/json" id="([^"]+)-data">(.*?)</script>', text)
    return {fig_id: json.loads(body) for fig_id, body in found}


def test_report_writes_an_index_a_page_per_claim_and_plotly(evaluated: Project) -> None:
    result = invoke("report")
    assert result.exit_code == 0, result.output
    site = evaluated.root / "report"
    assert result.output == "report/index.html: 5 claim page(s); 9 file(s) written, 0 removed\n"
    assert sorted(p.name for p in (site / "claims").iterdir()) == [
        "final-loss-below-2.html",
        "loss-below-zero.html",
        "one-spike.html",
        "refusals-are-rare.html",
        "resid-rms-bounded.html",
    ]
    assert (site / "assets" / "plotly.min.js").read_bytes() == files.plotly_js()
    index = (site / "index.html").read_text()
    assert "cdn" not in index.lower() and "https://" not in index
    assert 'data-outcome="fail" data-state="ok"' in index  # loss-below-zero on basic
    assert '<tr class="claim" data-tags="fixture">' in index


def test_a_loss_page_plots_the_curve_its_events_and_the_threshold(evaluated: Project) -> None:
    invoke("report")
    spikes = _figures(evaluated.root / "report" / "claims" / "one-spike.html")["fig-0"]
    names = [t["name"] for t in spikes["data"]]
    assert names == ["basic: loss", "basic: events"]
    assert spikes["data"][1]["x"] == [200]
    threshold = _figures(evaluated.root / "report" / "claims" / "final-loss-below-2.html")["fig-0"]
    lines = [s for s in threshold["layout"]["shapes"] if s["type"] == "line"]
    assert [(s["name"], s["y0"]) for s in lines] == [("value < 2.0", 2.0)]


def test_a_claim_page_shows_statement_expect_lines_and_observed_values(evaluated: Project) -> None:
    invoke("report")
    page = (evaluated.root / "report" / "claims" / "loss-below-zero.html").read_text()
    assert "<h2>Falsified if</h2><p>The final train loss is zero or more.</p>" in page
    assert "<li><code>value &lt; 0</code></li>" in page
    assert '<td class="fail">fail</td><td>value = ' in page
    assert "Verdict timeline" in page and "not a git repository" in page.lower()


def test_rebuilding_with_nothing_changed_rewrites_no_file(evaluated: Project) -> None:
    invoke("report")
    site = evaluated.root / "report"
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    result = invoke("report")
    assert result.output == "report/index.html: 5 claim page(s); 0 file(s) written, 0 removed\n"
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == before


def test_the_page_of_a_removed_claim_is_removed(evaluated: Project) -> None:
    invoke("report", "--out", "site")
    (evaluated.claims / "one-spike.yaml").unlink()
    result = invoke("report", "--out", "site")
    assert result.exit_code == 0, result.output
    assert "1 removed" in result.output
    assert not (evaluated.root / "site" / "claims" / "one-spike.html").exists()


def test_without_the_report_extra_the_error_names_it(evaluated: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.importlib.util.find_spec
    monkeypatch.setattr(files.importlib.util, "find_spec", lambda name: None if name == "plotly" else real(name))
    result = invoke("report")
    assert result.exit_code == 2, result.output
    assert result.output == ("`registry report` needs plotly: the `report` extra (hint: pip install 'claims-registry[report]')\n")
    assert not (evaluated.root / "report").exists()


def test_a_ten_million_step_curve_is_shortened_and_keeps_every_event() -> None:
    pytest.importorskip("tsdownsample", reason="the `report` extra")
    n = 10_000_000
    steps = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(0)
    values = 2.0 + 0.01 * rng.standard_normal(n)
    events = [123_457, 5_000_001, 9_999_990]
    values[events] += 5.0
    flagged_but_flat = 7_777_777  # an event the detector reported where the curve shows nothing special
    x, y = downsample(steps, values, keep=[*events, flagged_but_flat])
    assert x.size <= 4_100
    assert set(events) | {flagged_but_flat} <= set(x.tolist())
    assert np.all(np.diff(x) > 0)
    assert len(json.dumps({"x": x.tolist(), "y": [round(float(v), 6) for v in y]})) < 2_000_000


def test_the_judged_window_is_shaded_to_the_curves_end_when_open(evaluated: Project) -> None:
    source = (evaluated.claims / "one-spike.yaml").read_text()
    (evaluated.claims / "one-spike.yaml").write_text(
        source.replace("params: {window: 5}", "params: {window: 5, steps: [100, null]}")
    )
    invoke("evaluate")
    invoke("report")
    figure = _figures(evaluated.root / "report" / "claims" / "one-spike.html")["fig-0"]
    (window,) = [s for s in figure["layout"]["shapes"] if s.get("name") == "judged window"]
    assert (window["x0"], window["x1"]) == (100, figure["data"][0]["x"][-1])


def test_a_claim_changed_without_an_amendment_is_marked_refused(evaluated: Project) -> None:
    path = evaluated.claims / "final-loss-below-2.yaml"
    path.write_text(path.read_text().replace("value: 2.0}", "value: 3.0}"))
    message = invoke("validate").output.strip().splitlines()[0]
    assert "amend" in message
    assert invoke("report").exit_code == 0
    index = (evaluated.root / "report" / "index.html").read_text()
    assert index.count("⚠ refused") == 1
    page = (evaluated.root / "report" / "claims" / "final-loss-below-2.html").read_text()
    assert f'<p class="refused">⚠ refused by validate: {html.escape(message)}</p>' in page
