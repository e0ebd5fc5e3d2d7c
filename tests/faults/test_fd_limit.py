"""The open-file limit is checked against the planned concurrency before a run starts."""

from __future__ import annotations

import resource

from conftest import bench_cli, endpoint_config

from bench.report.io import read_requests
from bench.runner import run_benchmark


def test_a_low_soft_limit_is_raised_so_no_request_fails(fault_server, tmp_path):
    """Soft limit 48 with 40 connections planned: raised to 40 + 64 = 104 before the run,
    and all 80 requests are ok (below the limit, connections failed with EMFILE)."""
    server = fault_server(ttft_ms=20, itl_ms=2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
    try:
        cfg = endpoint_config(server, tmp_path / "run", num_requests=80,
                              load=dict(kind="concurrency", concurrency=40))  # fmt: skip
        report = run_benchmark(cfg)
        raised_to = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.summary.requests_ok == 80
    assert raised_to == 104
    assert len(read_requests(tmp_path / "run")) == 80


def test_a_hard_limit_below_the_concurrency_is_refused_with_the_fix(fault_server, tmp_path):
    """Hard limit 100, concurrency 200: exit 2 before any work, naming the numbers."""
    server = fault_server()

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    out = tmp_path / "run"
    result = bench_cli("run", "--endpoint", server.base_url, "--served-model", "synth",
                       "--concurrency", "200", "-n", "400", "--out", str(out),
                       preexec_fn=limit)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "needs 264 open files, but the open-file limit here is 100" in result.stderr
    assert "ulimit -n 264" in result.stderr and "at most 36 requests in flight" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert server.stats()["generation_requests"] == 0
