"""One self-contained HTML file: plotly.js inline, tables sortable by a few lines of JS.

Everything that comes from a run (model names, prompts, config values, server messages)
goes through `html.escape`; plotly's JSON escapes `<`, `>` and `/` inside the figure data,
and labels are escaped before they reach plotly (see `figures.esc`). The page loads
nothing from the network.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime

from bench.render.figures import FigureSpec
from bench.render.tables import Cell, Table

BASIS_LEGEND = [
    ("measured", "read from this run's requests, meters or server counters"),
    ("configured", "set by a person: config, hardware profile, price assumptions"),
    ("derived", "arithmetic on measured and configured figures"),
    ("estimated", "a stand-in where nothing was measured (e.g. power from TDP)"),
    (
        "projected",
        "extrapolated to a setting that was not run (none on this page unless a figure says so)",
    ),
]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;
background:#fafbfc}
header{background:#0b3d63;color:#fff;padding:18px 28px}
header h1{margin:0 0 6px;font-size:22px}
header p{margin:2px 0;font-size:13px;opacity:.9}
main{padding:8px 28px 40px;max-width:1600px}
section{margin-top:26px}
h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px}
figcaption{font-size:12px;color:#57606a;padding:4px 8px}
.badge{display:inline-block;font-size:11px;border-radius:10px;padding:1px 8px;margin-right:6px;
background:#ddf4ff;color:#0969da;border:1px solid #54aeff}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;
margin:10px 0;font-size:13px}
.note{font-size:12px;color:#57606a;margin:4px 0 10px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;background:#fff}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
th .basis{display:block;font-weight:normal;font-size:10.5px;color:#57606a}
td.long{max-width:520px;word-break:break-word}
details{margin:10px 0}
summary{cursor:pointer;font-weight:600}
"""

SORT_JS = """
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortBy(table, index, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (x === null) return y === null ? 0 : 1;
      if (y === null) return -1;
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  // plots drawn while the page was still parsing may have sized to a provisional layout
  window.addEventListener("load", function () {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      window.Plotly.Plots.resize(gd);
    });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, i, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter") sortBy(table, i, th);
      });
    });
  });
})();
"""


def esc(value: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def number_text(value: float | int) -> str:
    """Display a number: integers as is; floats to about 4 significant digits.

    Examples: 1234.5 → "1,234"; 123.46 → "123.5"; 56.789 → "56.79"; 0.012345 → "0.0123".
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    if a == 0:
        return "0"
    return f"{value:.3g}"


def _cell(value: Cell) -> str:
    if value is None:
        return '<td data-v="">—</td>'
    if isinstance(value, bool):
        return f'<td data-v="{int(value)}">{"yes" if value else "no"}</td>'
    if isinstance(value, int | float):
        return f'<td class="num" data-v="{value!r}">{esc(number_text(value))}</td>'
    cls = ' class="long"' if len(value) > 60 else ""
    return f'<td{cls} data-v="{esc(value)}">{esc(value)}</td>'


def table_html(table: Table, heading: str = "h3") -> str:
    """A sortable table with its title and note; every value escaped."""
    head = "".join(
        f'<th scope="col">{esc(c.header)}'
        + (f'<span class="basis">{esc(c.basis)}</span>' if c.basis else "")
        + "</th>"
        for c in table.columns
    )
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in table.rows)
    note = f'<p class="note">{esc(table.note)}</p>' if table.note else ""
    if not table.rows:  # nothing to sort: the note says why
        return f'<{heading} id="{esc(table.key)}">{esc(table.title)}</{heading}>{note}'
    return (
        f'<{heading} id="{esc(table.key)}">{esc(table.title)}</{heading}>{note}'
        f'<div class="tablewrap"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def figure_html(spec: FigureSpec) -> str:
    """A plot as a <figure>: plotly's div (no script tag for the library) and a caption."""
    import plotly.io as pio

    div = pio.to_html(
        spec.figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"plot-{spec.key}",
        config={"displaylogo": False, "responsive": True},
    )
    return (
        f'<figure class="plot" data-basis="{esc(spec.basis)}">{div}'
        f'<figcaption><span class="badge">{esc(spec.basis)}</span>{esc(spec.caption)}'
        "</figcaption></figure>"
    )


def section(title: str, key: str, parts: list[str], *, grid: bool = False) -> str:
    """A titled section; empty parts are dropped, and an empty section renders nothing."""
    body = [p for p in parts if p]
    if not body:
        return ""
    inner = f'<div class="grid">{"".join(body)}</div>' if grid else "".join(body)
    return f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{inner}</section>'


def page(title: str, subtitle: list[str], warnings: list[str], sections: list[str]) -> str:
    """The whole document: head with CSS and plotly.js inline, body, sort script."""
    from plotly.offline import get_plotlyjs

    from bench import __version__

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    legend = "".join(
        f'<li><span class="badge">{esc(k)}</span>{esc(v)}</li>' for k, v in BASIS_LEGEND
    )
    warn = "".join(f'<div class="warn">{esc(w)}</div>' for w in warnings)
    sub = "".join(f"<p>{esc(s)}</p>" for s in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{esc(title)}</h1>{sub}"
        f"<p>generated {esc(stamp)} by tokenbench {esc(__version__)}</p></header><main>{warn}"
        f"{''.join(sections)}"
        f'<section id="basis"><h2>What the labels mean</h2><ul>{legend}</ul></section>'
        f"</main><script>{SORT_JS}</script></body></html>\n"
    )
