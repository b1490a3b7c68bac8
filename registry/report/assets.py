"""The site's own stylesheet and script (vanilla JS: render each figure, filter the index)."""

from __future__ import annotations

CSS = """\
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #1f2328; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #d0d7de; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
table { border-collapse: collapse; } td, th { padding: 2px 6px; border: 1px solid #d0d7de; vertical-align: top; }
.matrix { overflow: auto; max-height: 80vh; }
.matrix th.run { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
.matrix tr.claim th { white-space: nowrap; text-align: left; position: sticky; left: 0; background: #fff; }
.matrix td.cell { text-align: center; min-width: 1.6em; } .matrix a { text-decoration: none; color: inherit; }
.pass { background: #dafbe1; } .fail { background: #ffd8d3; }
.inconclusive { background: #fff1c2; } .error { background: #eadcff; }
.none { background: #f6f8fa; color: #8c959f; } .dim { opacity: .15; }
.mark { font-size: 10px; vertical-align: super; } .refused { color: #cf222e; font-weight: bold; }
.muted { color: #656d76; } .plot { width: 100%; min-height: 340px; } .notes { color: #9a6700; }
form#filters { margin: .8em 0; display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
"""

JS = """\
(function () {
  "use strict";
  function renderPlots() {
    document.querySelectorAll("div.plot").forEach(function (div) {
      var fig = JSON.parse(document.getElementById(div.dataset.fig).textContent);
      Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
    });
  }
  function filterIndex() {
    var form = document.getElementById("filters");
    if (!form) { return; }
    function apply() {
      var tag = form.elements.tag.value, outcome = form.elements.outcome.value, stale = form.elements.stale.checked;
      document.querySelectorAll("tr.claim").forEach(function (row) {
        var tags = row.dataset.tags.split(" "), shown = false;
        row.querySelectorAll("td.cell").forEach(function (cell) {
          var match = (!outcome || cell.dataset.outcome === outcome) && (!stale || cell.dataset.state !== "ok");
          cell.classList.toggle("dim", !match);
          if (match && cell.dataset.state !== "none") { shown = true; }
        });
        row.hidden = !((!tag || tags.indexOf(tag) >= 0) && (shown || (!outcome && !stale)));
      });
    }
    form.addEventListener("change", apply);
    apply();
  }
  document.addEventListener("DOMContentLoaded", function () { filterIndex(); renderPlots(); });
})();
"""
