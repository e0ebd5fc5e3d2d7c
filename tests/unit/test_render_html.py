"""The HTML page: escaping of run-supplied strings, no network, labelled figures."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.render.bundle import select
from bench.render.html import number_text, table_html
from bench.render.report import all_tables, render_html
from bench.render.tables import Column, Table

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_two_skus"
H100_C8 = "20260302T111500Z-h100-sxm-c8"
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror='alert(1)'>"


@pytest.fixture(scope="module")
def pages(
    tmp_path_factory: pytest.TempPathFactory, workload_section: Callable[..., dict[str, object]]
) -> dict[str, str]:
    """The h100 c=8 run rendered as is, and a copy with markup in the model name, the
    workload's description and the server's error message."""
    tmp = tmp_path_factory.mktemp("html")
    run = tmp / H100_C8
    shutil.copytree(FIXTURES / H100_C8, run)
    report = json.loads((run / "report.json").read_text())
    report["config"]["model"] = f"m{HOSTILE}"
    report["workload"] = workload_section("chat", f"Tell me {HOSTILE}")
    (run / "report.json").write_text(json.dumps(report))
    text = (
        (run / "requests.jsonl")
        .read_text()
        .replace("engine step failed", HOSTILE.replace("'", "\\u0027"))
    )
    (run / "requests.jsonl").write_text(text)
    return {
        "plain": render_html(select([FIXTURES / H100_C8])),
        "hostile": render_html(select([run])),
    }


def test_markup_from_runs_is_escaped(pages: dict[str, str]) -> None:
    hostile = pages["hostile"]
    assert "window.__pwned" in hostile  # it is shown...
    assert "<script>window.__pwned" not in hostile  # ...never as markup
    assert "<img src=x" not in hostile
    escaped = "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror="
    assert escaped + "&#x27;alert(1)&#x27;&gt;" in hostile
    assert "Tell me &lt;script&gt;" in hostile  # the workload's description
    assert "Internal Server Error: &lt;script&gt;" in hostile  # the server's message
    # exactly the same script elements as the page without markup
    assert hostile.count("<script") == pages["plain"].count("<script")
    assert hostile.count("</script>") == hostile.count("<script")


def test_page_needs_no_network(pages: dict[str, str]) -> None:
    page = pages["plain"]
    assert re.search(r"<script[^>]+src=", page) is None
    assert re.search(r"<link[^>]+href=", page) is None
    assert "@import" not in page and "url(http" not in page
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.js is inline


def test_every_figure_names_units_and_basis(pages: dict[str, str]) -> None:
    page = pages["plain"]
    bases = re.findall(r'<figure class="plot" data-basis="([^"]+)">', page)
    assert bases == ["measured"] * 8
    found = re.findall(r'"title":\{"font":\{"size":15\},"text":("[^"]+")', page)
    titles = [json.loads(t) for t in found]
    assert len(titles) == 8
    for title in titles:  # a unit in brackets, then the basis
        assert re.search(r"\(.*\b(ms|tok/s|W)\b.*\)", title), title
        assert title.endswith("· measured"), title


def test_every_table_of_the_exports_is_on_the_page(pages: dict[str, str]) -> None:
    sel = select([FIXTURES / H100_C8])
    keys = [t.key for t in all_tables(sel)]
    assert keys[0] == "runs" and len(keys) == 7
    for key in keys:
        assert f'id="{key}"' in pages["plain"], key


def test_comparison_page_has_pareto_cost_and_sku_bars() -> None:
    page = render_html(select([FIXTURES]))
    assert re.findall(r'<div id="plot-([a-z-]+)"', page)[:3] == ["pareto", "cost", "sku-bars"]
    assert "h100-sxm Pareto front" in page and "h200-sxm Pareto front" in page
    assert "derived, partly estimated" in page  # h200 costs used an estimated power


def test_table_cells_escape_and_carry_sort_keys() -> None:
    t = Table(key="k", title='A "quoted" <b>title</b>',
              columns=[Column(name="name"), Column(name="TTFT", unit="ms", basis="measured")],
              rows=[['x" onmouseover="y', 12.5], [None, 3]])  # fmt: skip
    out = table_html(t)
    assert '<h3 id="k">A &quot;quoted&quot; &lt;b&gt;title&lt;/b&gt;</h3>' in out
    assert '<td data-v="x&quot; onmouseover=&quot;y">x&quot; onmouseover=&quot;y</td>' in out
    assert '<td class="num" data-v="12.5">12.50</td>' in out
    assert '<td data-v="">—</td><td class="num" data-v="3">3</td>' in out
    assert '<th scope="col">TTFT (ms)<span class="basis">measured</span></th>' in out


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "1,234"), (123.46, "123.5"), (56.789, "56.79"), (1.2345, "1.23"),
     (0.012345, "0.0123"), (0.0, "0"), (12, "12"), (123456, "123,456")],
)  # fmt: skip
def test_number_text(value: float, text: str) -> None:
    assert number_text(value) == text


def test_a_table_without_rows_shows_only_its_note() -> None:
    t = Table(key="e", title="Energy", columns=[Column(name="scope")], rows=[],
              note="energy: not measured (no meter)")  # fmt: skip
    assert table_html(t) == (
        '<h3 id="e">Energy</h3><p class="note">energy: not measured (no meter)</p>'
    )
