"""The HTML reports in a real browser: headless Debian Chromium, no network.

Chromium is driven over the DevTools protocol (`--remote-debugging-port`, a websocket
client from `websockets`): every console message, uncaught exception, log entry and
network request is recorded while the page loads, then a script counts what each plot
drew, and a full-page screenshot is saved to `artifacts/`. `.ci/run` installs chromium
(`apt-get install -y chromium`); without /usr/bin/chromium the tests are skipped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bench.render.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "runs_two_skus"
ARTIFACTS = REPO / "artifacts"
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

# What each plot drew: its SVG, its size, and the paths of its data layers.
PLOT_CHECK = """
(() => {
  const plots = Array.from(document.querySelectorAll("figure.plot")).map((fig) => {
    const gd = fig.querySelector(".js-plotly-plot");
    if (!gd) return {id: null, svg: false, marks: 0, width: 0, height: 0};
    const marks = Array.from(gd.querySelectorAll(".scatterlayer path, .barlayer path"))
      .filter((p) => (p.getAttribute("d") || "").length > 2).length;
    const box = gd.getBoundingClientRect();
    return {id: gd.id, svg: !!gd.querySelector("svg.main-svg"), marks: marks,
            width: box.width, height: box.height, traces: (gd.data || []).length};
  });
  return JSON.stringify({plots: plots, pwned: window.__pwned === undefined ? null : window.__pwned,
                         tables: document.querySelectorAll("table.sortable").length});
})()
"""


RESIZE_ALL = """
Promise.all(Array.from(document.querySelectorAll(".js-plotly-plot"))
  .map((gd) => window.Plotly.Plots.resize(gd))).then(() => true)
"""


class Chromium:
    """A headless Chromium with one page, spoken to over the DevTools websocket."""

    def __init__(self, profile: Path) -> None:
        args = [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "--window-size=1400,900", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        from websockets.sync.client import connect

        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(url, max_size=None, open_timeout=10))
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout_s: float) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(method)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        return result["result"].get("value")

    def close(self) -> None:
        try:
            if hasattr(self, "stack"):
                self.stack.close()
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()


def open_report(html: Path, tmp_path: Path, screenshot: str) -> dict[str, Any]:
    """Load `html`, wait until every plot has drawn, screenshot it; return what was seen."""
    browser = Chromium(tmp_path / "profile")
    try:
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Page.navigate", url=html.resolve().as_uri())
        browser.wait_event("Page.loadEventFired", timeout_s=60)
        deadline = time.monotonic() + 30
        while True:
            seen = json.loads(browser.evaluate(PLOT_CHECK))
            if all(p["svg"] and p["marks"] for p in seen["plots"]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        height = browser.evaluate("document.documentElement.scrollHeight")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=1400,
            height=min(int(height), 16000),
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.evaluate(RESIZE_ALL, await_promise=True)
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / screenshot).write_bytes(base64.b64decode(shot["data"]))
        time.sleep(0.2)
        browser.call("Runtime.evaluate", expression="1")  # drain late events
    finally:
        browser.close()
    seen["console_errors"] = []
    seen["requests"] = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        console = method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert")
        if console or method == "Runtime.exceptionThrown":
            seen["console_errors"].append(params)
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            seen["console_errors"].append(params["entry"])
        elif method == "Network.requestWillBeSent":
            seen["requests"].append(params["request"]["url"])
    return seen


def check(seen: dict[str, Any], html: Path, expected_plots: int) -> None:
    assert seen["console_errors"] == []
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:", "about:"))] == []
    assert len(seen["plots"]) == expected_plots == html.read_text().count('<figure class="plot"')
    for plot in seen["plots"]:
        assert plot["svg"] and plot["marks"] > 0, plot
        assert plot["width"] > 200 and plot["height"] > 200, plot
    assert seen["pwned"] is None


def hostile_run(tmp_path: Path, workload_section: Any) -> Path:
    """A copy of the h100 c=8 run (one failed request) with markup in the model name, the
    workload record's name and description, and the server's error message."""
    src = FIXTURES / "20260302T111500Z-h100-sxm-c8"
    run = tmp_path / src.name
    shutil.copytree(src, run)
    report = json.loads((run / "report.json").read_text())
    report["config"]["model"] = f"evil{HOSTILE}model"
    report["provenance"]["model_id"] = f"evil{HOSTILE}model"
    report["workload"] = workload_section(f"chat{HOSTILE}", f"Say {HOSTILE} please")
    (run / "report.json").write_text(json.dumps(report))
    lines = (run / "requests.jsonl").read_text().splitlines()
    lines = [ln.replace("engine step failed", f"engine said {HOSTILE}") for ln in lines]
    (run / "requests.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_run_report_in_chromium(tmp_path: Path, workload_section: Any) -> None:
    """Run page: 4 CDFs, TTFT and TPOT over time, throughput over time, power timeline."""
    run = hostile_run(tmp_path, workload_section)
    _, written = write_report([run], ["html"])
    seen = open_report(written[0], tmp_path, "report-run.png")
    check(seen, written[0], expected_plots=8)
    assert seen["tables"] == 7


def test_comparison_report_in_chromium(tmp_path: Path) -> None:
    """Comparison of the two-SKU set: Pareto, cost, SKU bars, CDFs, over time, power."""
    _, written = write_report([FIXTURES], ["html"], out_dir=tmp_path / "cmp")
    seen = open_report(written[0], tmp_path, "report-comparison.png")
    check(seen, written[0], expected_plots=11)


def test_sweep_report_in_chromium(tmp_path: Path) -> None:
    from bench.sweep.manifest import SWEEP_MANIFEST, new_manifest, update_point

    sweep_dir = tmp_path / "sweep"
    manifest = new_manifest("sweep-h100", {"hardware": "h100-sxm"}, "concurrency", [1, 4, 8])
    for i, src in enumerate(sorted(FIXTURES.glob("*h100*"))):
        shutil.copytree(src, sweep_dir / manifest.points[i].run_dir)
        manifest = update_point(manifest, i, status="done")
    SWEEP_MANIFEST.write(manifest, sweep_dir)
    _, written = write_report([sweep_dir], ["html"])
    assert written == [sweep_dir / "report.html"]
    seen = open_report(written[0], tmp_path, "report-sweep.png")
    # one SKU: Pareto and cost plots, no SKU bars
    check(seen, written[0], expected_plots=10)
