"""The sweep orchestration's pieces that need no vLLM: escalation stops, point configs,
prefix-cache resets against a local HTTP server, manifest opening, the spec, the text view."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.config.run import RunConfig
from bench.errors import UserError
from bench.records import Distribution
from bench.sweep.curve import CurvePoint
from bench.sweep.manifest import SWEEP_MANIFEST, new_manifest
from bench.sweep.repeat import summarize_repeats
from bench.sweep.run import SweepReport, SweepSpec, _open_manifest, escalation_stop
from bench.sweep.session import point_config, reset_prefix_cache
from bench.sweep.show import curve_text, operating_point_text


def level(load: float, total: float, e2e: float, error_rate: float = 0.0) -> CurvePoint:
    def d(v: float) -> Distribution:
        return Distribution(count=10, p50=v, p90=v)

    return CurvePoint(
        load_kind="concurrency", load=load, gpus=1, throughput_window="steady_state",
        total_tok_per_s_per_gpu=total, input_tok_per_s_per_gpu=total / 2,
        output_tok_per_s_per_gpu=total / 2, request_per_s=1.0,
        interactivity_tok_per_s=32 / e2e, ttft_s=d(e2e / 4), tpot_s=d(e2e / 32), e2e_s=d(e2e),
        requests_ok=20, requests_failed=int(20 * error_rate), error_rate=error_rate,
    )  # fmt: skip


SPEC = SweepSpec(loads=[1, 2, 4], max_error_rate=0.05, saturation_gain=0.05)


def test_escalation_stops_on_error_rate_and_saturation():
    assert escalation_stop(None, level(1, 100, 0.5), SPEC) is None
    assert escalation_stop(level(1, 100, 0.5), level(2, 190, 0.55), SPEC) is None
    err = escalation_stop(level(2, 190, 0.5), level(4, 300, 0.6, error_rate=0.1), SPEC)
    assert err == "error rate 10.0% above the limit 5.0% at concurrency 4"
    sat = escalation_stop(level(2, 200, 0.5), level(4, 204, 1.0), SPEC)  # +2 % throughput
    assert sat.startswith("saturated at concurrency 4: throughput per GPU 200.0 → 204.0")
    no_stop = SPEC.model_copy(update={"stop_on_saturation": False})
    assert escalation_stop(level(2, 200, 0.5), level(4, 204, 1.0), no_stop) is None


def test_spec_requires_ascending_loads():
    with pytest.raises(ValueError, match="strictly increasing"):
        SweepSpec(loads=[1, 4, 2])
    with pytest.raises(ValueError, match="> 0"):
        SweepSpec(loads=[0, 1])


BASE = RunConfig.model_validate(
    {
        "model": "tiny-llama",
        "workload": {"kind": "shape", "input_tokens": 32, "output_tokens": 16},
        "load": {"kind": "rate", "rate_per_s": 1.0, "arrival": "gamma", "burstiness": 0.5},
        "num_requests": 10,
        "output_dir": "/tmp/x",
    }
)


def test_point_config_sets_load_and_run_dir_keeping_the_rest(tmp_path):
    m = new_manifest("s", {}, "rate", [0.5, 2.0])
    cfg = point_config(BASE, m.points[1], tmp_path, None)
    assert cfg.load.rate_per_s == 2.0 and cfg.load.arrival == "gamma"
    assert cfg.load.burstiness == 0.5 and cfg.num_requests == 10
    assert cfg.output_dir == tmp_path / "001-rate-2-r0"
    conc = RunConfig.model_validate(
        {**BASE.model_dump(), "load": {"kind": "concurrency", "concurrency": 1}}
    )
    mc = new_manifest("s", {}, "concurrency", [1, 8])
    cfg = point_config(conc, mc.points[1], tmp_path, per_c=5)
    assert cfg.load.concurrency == 8 and cfg.num_requests == 40  # 5 × 8


class _Handler(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes]] = []
    seen: list[str] = []

    def do_POST(self):  # noqa: N802
        type(self).seen.append(self.path)
        code, body = type(self).answers.pop(0)
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_prefix_cache_reset_success_refusal_and_absence(local_server):
    ok = json.dumps({"success": True}).encode()
    no = json.dumps({"success": False}).encode()
    _Handler.answers = [(200, ok)]
    r = reset_prefix_cache(local_server)
    assert (r.attempted, r.ok, r.http_status) == (True, True, 200)
    assert _Handler.seen == ["/reset_prefix_cache"]
    _Handler.answers = [(200, no), (200, ok)]  # refused once (blocks held), then done
    r = reset_prefix_cache(local_server, wait_s=0.0)
    assert r.ok and "refused 1 time" in r.note
    _Handler.answers = [(200, no), (200, no)]
    r = reset_prefix_cache(local_server, tries=2, wait_s=0.0)
    assert r.ok is False and "refused 2 time" in r.note
    _Handler.answers = [(404, b"")]
    r = reset_prefix_cache(local_server)
    assert (r.ok, r.http_status) == (False, 404) and "no reset endpoint" in r.note


def test_open_manifest_refuses_non_empty_folder_and_empty_resume(tmp_path):
    config = {"run": {"model": "m"}}
    with pytest.raises(UserError, match="nothing to resume"):
        _open_manifest(
            tmp_path / "new", config, True, lambda: new_manifest("s", config, "rate", [1])
        )
    m = _open_manifest(
        tmp_path / "new", config, False, lambda: new_manifest("s", config, "rate", [1])
    )
    assert (tmp_path / "new" / "sweep.json").is_file() and m.sweep_id == "s"
    with pytest.raises(UserError, match="not empty"):
        _open_manifest(tmp_path / "new", config, False, lambda: m)
    with pytest.raises(UserError, match="different configuration"):
        _open_manifest(tmp_path / "new", {"run": {"model": "other"}}, True, lambda: m)
    SWEEP_MANIFEST.write(m.model_copy(update={"points": [m.points[0].model_copy(
        update={"status": "running"})]}), tmp_path / "new")  # fmt: skip
    resumed = _open_manifest(tmp_path / "new", config, True, lambda: m)
    assert resumed.points[0].status == "pending"


def two_level_report() -> SweepReport:
    """Levels at interactivity 80 (100 tok/s/GPU) and 40 (180 tok/s/GPU)."""
    levels = [summarize_repeats([level(1, 100, 0.4)]), summarize_repeats([level(2, 180, 0.8)])]
    return SweepReport(
        sweep_id="s", status="complete", stop_reason=None, load_kind="concurrency", gpus=1,
        server_starts=1, prefix_cache_resets_ok=1, prefix_cache_resets_failed=0,
        points=[lv.mean_point for lv in levels], levels=levels,
        front=[lv.mean_point for lv in levels], failed_runs=[],
    )  # fmt: skip


def test_curve_text_and_operating_point_text():
    report = two_level_report()
    text = curve_text(report)
    assert "prefix-cache resets 1 ok / 0 failed" in text
    assert "*           2      180.0 (90.0 / 90.0)" in text
    # interactivity 32/0.4 = 80 and 32/0.8 = 40: the target 80 is the measured load 1
    assert "measured" in operating_point_text(report, 80.0, "interactivity_tok_per_s", "p50")
    assert "100.0 tok/s/GPU" in operating_point_text(report, 80.0, "interactivity_tok_per_s", "p50")
    assert "not_reached" in operating_point_text(report, 100.0, "interactivity_tok_per_s", "p50")
    with pytest.raises(UserError):
        operating_point_text(report, 1.0, "latency", "p50")


def test_show_command_reads_curve_json_and_interpolates(tmp_path):
    from typer.testing import CliRunner

    from bench.sweep.cli import app

    report = two_level_report()
    (tmp_path / "curve.json").write_text(report.model_dump_json())
    # two front points (interactivity 40 and 80): PCHIP is the line, at 60 → (180 + 100) / 2
    result = CliRunner().invoke(app, ["show", str(tmp_path), "--target", "60"])
    assert result.exit_code == 0, result.output
    assert (
        "interpolated" in result.output and "140.0 tok/s/GPU (in 70.0 / out 70.0)" in result.output
    )
    missing = CliRunner().invoke(app, ["show", str(tmp_path / "none")])
    assert isinstance(missing.exception, UserError)
