"""Build the site: index.html, claims/<id>.html, assets/ (plotly.min.js shipped once, no CDN).

Only files whose bytes change are written; pages of claims that no longer exist are removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.report.assets import CSS, JS
from registry.report.claim_page import claim_page
from registry.report.files import plotly_js, require_extra, write_if_changed
from registry.report.model import gather
from registry.report.pages import index_page

if TYPE_CHECKING:
    from registry.config import Settings


@dataclass
class Site:
    index: Path
    pages: int = 0
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def build_report(settings: Settings, out: Path, *, history: bool = True) -> Site:
    """Write the report of the project's claims, runs and verdicts into `out`."""
    require_extra()
    report = gather(settings, with_history=history)
    files: dict[Path, bytes] = {
        out / "assets" / "plotly.min.js": plotly_js(),
        out / "assets" / "report.js": JS.encode(),
        out / "assets" / "report.css": CSS.encode(),
        out / "index.html": index_page(report).encode(),
    }
    for d in report.claims:
        files[out / "claims" / f"{d.claim.id}.html"] = claim_page(d, report.runs).encode()
    site = Site(out / "index.html", pages=len(report.claims))
    for path, data in files.items():
        if write_if_changed(path, data):
            site.written.append(path)
    pages = out / "claims"
    for old in sorted(pages.glob("*.html")) if pages.is_dir() else []:
        if old not in files:
            old.unlink()
            site.removed.append(old)
    return site
