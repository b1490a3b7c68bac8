"""The generated site in a real browser (headless Chromium through Playwright): no console errors,
every plot rendered with data, the event markers drawn, a screenshot that is not blank.

Needs Debian's `chromium` (/usr/bin/chromium, or $REGISTRY_CHROMIUM) and the `playwright` package;
without them the test skips with the reason, unless REGISTRY_REQUIRE_BROWSER=1 (set by .ci/run), which
turns the skip into a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, invoke

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    named = os.environ.get("REGISTRY_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (the [test] extra)"
    if _chromium() is None:
        return "no chromium executable (apt-get install chromium, or set REGISTRY_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("REGISTRY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required (REGISTRY_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"network request: {r.url}") if not r.url.startswith("file:") else None)
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


PLOTS = """() => Array.from(document.querySelectorAll('div.plot')).map(d => ({
    id: d.id,
    traces: (d.data || []).length,
    points: (d.data || []).reduce((n, t) => n + ((t.x || []).length), 0),
    drawn: d.querySelectorAll('.main-svg').length,
    events: (d.data || []).filter(t => t.meta === 'events').reduce((n, t) => n + t.x.length, 0),
}))"""


def test_every_claim_page_renders_its_plots_without_errors(browser: Any, evaluated: Project) -> None:
    assert invoke("report").exit_code == 0
    pages = sorted((evaluated.root / "report" / "claims").glob("*.html"))
    assert len(pages) == 5
    plotted = 0
    for path in pages:
        page, errors = _open(browser, path)
        plots = page.evaluate(PLOTS)
        assert errors == [], (path.name, errors)
        for plot in plots:
            assert plot["traces"] > 0 and plot["points"] > 0 and plot["drawn"] > 0, (path.name, plot)
        plotted += len(plots)
        page.close()
    assert plotted >= 4


def test_the_event_markers_are_drawn_and_the_page_is_not_blank(browser: Any, evaluated: Project) -> None:
    invoke("report")
    page, errors = _open(browser, evaluated.root / "report" / "claims" / "one-spike.html")
    plots = page.evaluate(PLOTS)
    assert plots[0]["events"] == 1
    # Plotly draws each marker of a scatter trace as a path.point in the SVG.
    assert page.locator("#fig-0 .scatterlayer .trace").count() == 2
    assert page.locator("#fig-0 .scatterlayer .trace:nth-child(2) path.point").count() == 1
    shot = page.locator("#fig-0").screenshot()
    assert errors == []
    _assert_not_blank(shot)
    page.close()


def test_the_index_filters_rows_by_outcome(browser: Any, evaluated: Project) -> None:
    invoke("report")
    page, errors = _open(browser, evaluated.root / "report" / "index.html")
    assert page.locator("tr.claim:not([hidden])").count() == 5
    page.select_option("select[name=outcome]", "fail")
    visible = page.locator("tr.claim:not([hidden]) th a").all_inner_texts()
    assert visible == ["loss-below-zero"]
    assert errors == []
    page.close()


def _assert_not_blank(png: bytes) -> None:
    """More than a handful of distinct colours: the plot's lines, markers and axes are there."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20, "the screenshot is blank"


@pytest.mark.parametrize(
    ("required", "expected"),
    [("0", "SKIPPED [1]"), ("1", "Failed: browser test required (REGISTRY_REQUIRE_BROWSER=1) but")],
)
def test_without_chromium_the_test_skips_unless_required(tmp_path: Path, required: str, expected: str) -> None:
    """`.ci/run` sets REGISTRY_REQUIRE_BROWSER=1: there a missing browser fails the suite instead of skipping."""
    import subprocess
    import sys

    env = {**os.environ, "REGISTRY_CHROMIUM": str(tmp_path / "no-chromium"), "REGISTRY_REQUIRE_BROWSER": required}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rsf",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_the_index_filters_rows_by_outcome",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert expected in proc.stdout, proc.stdout
    assert (proc.returncode == 0) == (required == "0"), proc.stdout
    assert "no chromium executable (apt-get install chromium, or set REGISTRY_CHROMIUM)" in proc.stdout
