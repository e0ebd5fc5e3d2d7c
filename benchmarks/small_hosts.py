"""Are the embedded default's figures trustworthy on this host? (docs/small-hosts.md)

Not a test: a measurement to run by hand and quote.

    python benchmarks/small_hosts.py                       # 3 x `scripts/demo.sh`
    python benchmarks/small_hosts.py --runs 2 --run-args "--concurrency 8 --duration-s 20 \\
        --input-tokens 128 --output-tokens 64"            # 2 x that `bench run`
    python benchmarks/small_hosts.py --cold                # first run with an empty
                                                            # vLLM compile cache
    python benchmarks/small_hosts.py --placement off        # what it was before

Each run starts its own managed vLLM (through `bench run`, or the demo script, which is
`bench run` too) while a sampler reads /proc every 100 ms for every thread of the `bench`
process tree: CPU time, run-queue wait (/proc/<pid>/task/<tid>/schedstat) and the CPU it
ran on. Per run it prints the issue's limits and the evidence:

- TPOT measured: share of the requests that can have one (two or more output tokens) whose
  TPOT was measured, i.e. not coalesced (bench.metrics.latency.coalesced), and how many had
  any read carrying several chunks;
- client event-loop lag p99 and max (the client's own probe, from report.json);
- stalls inside the throughput window as the report finds them (client event-loop stalls
  over 10 x the ITL p50; runs of zero-output bins), with their times;
- output throughput vs vLLM's generation-token counter over the same window;
- TTFT p50, p99 and their ratio;
- mean ITL and TTFT as the client saw them and as vLLM's engine core timed them (its
  inter-token and first-token histograms, scraped from /metrics before and after the run);
- per role (client, API server, engine core, worker): share of a CPU used, share of the
  window spent runnable but waiting for a CPU, and the CPUs it ran on.
Across runs: the coefficient of variation of the steady-state output throughput, and each
run against the mean of the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NS_PER_S = 1_000_000_000
SAMPLE_PERIOD_S = 0.1
COMPILE_CACHE = Path.home() / ".cache" / "vllm" / "torch_compile_cache"


# -- /proc sampler ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                out += [int(c) for c in kids.split()]
    return out


def _tree(root: int) -> list[int]:
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.append(pid)
            todo += _children(pid)
    return seen


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "client"
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if comm.startswith("VLLM::EngineCor"):
        return "engine core"
    if comm.startswith("VLLM::Worker"):
        return "worker"
    if "api_server" in cmd:
        return "API server"
    return "other"


class Sampler(threading.Thread):
    """Reads every thread of `root`'s process tree each SAMPLE_PERIOD_S."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        # (monotonic_ns, role, tid) -> (run_ns, wait_ns, cpu, state)
        self.samples: list[tuple[int, str, int, int, int, int, str]] = []
        self.roles: dict[int, str] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic_ns()
            for pid in _tree(self.root):
                role = self.roles.get(pid) or _role(pid, self.root)
                if role != "other":  # a process names itself (VLLM::Worker) after it starts
                    self.roles[pid] = role
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
                for tid in tids:
                    try:
                        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                        sched = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                    except OSError:
                        continue
                    fields = stat[stat.rindex(")") + 2 :].split()
                    self.samples.append((now, role, int(tid), int(sched[0]), int(sched[1]),
                                         int(fields[36]), fields[0]))  # fmt: skip
            self.stop.wait(SAMPLE_PERIOD_S)

    def by_role(self, start_ns: int, end_ns: int) -> dict[str, dict[str, object]]:
        """CPU share, run-queue wait share and CPUs seen running, per role, in a window."""
        first: dict[int, tuple[int, int]] = {}
        last: dict[int, tuple[int, int]] = {}
        role_of: dict[int, str] = {}
        cpus: dict[str, Counter[int]] = defaultdict(Counter)
        for t, role, tid, run, wait, cpu, state in self.samples:
            if not start_ns <= t <= end_ns:
                continue
            first.setdefault(tid, (run, wait))
            last[tid] = (run, wait)
            role_of[tid] = role
            if state == "R":
                cpus[role][cpu] += 1
        wall = (end_ns - start_ns) / NS_PER_S
        out: dict[str, dict[str, object]] = {}
        for tid, (run1, wait1) in last.items():
            run0, wait0 = first[tid]
            row = out.setdefault(role_of[tid], {"cpu": 0.0, "wait": 0.0})
            row["cpu"] = float(row["cpu"]) + (run1 - run0) / NS_PER_S / wall  # type: ignore[arg-type]
            row["wait"] = float(row["wait"]) + (wait1 - wait0) / NS_PER_S / wall  # type: ignore[arg-type]
        for role, row in out.items():
            row["cpus"] = dict(sorted(cpus[role].items()))
        return out


# -- one run ---------------------------------------------------------------------------------


def run_once(command: list[str], out_dir: Path) -> tuple[Path, Sampler, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    # the demo script execs `bench run`, so the tree root is the script's pid either way
    sampler = Sampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
        raise SystemExit(f"run failed with exit code {proc.returncode}: {shlex.join(command)}")
    return out_dir, sampler, time.monotonic() - t0


def figures(run_dir: Path, sampler: Sampler) -> dict[str, object]:
    report = json.loads((run_dir / "report.json").read_text())
    summary = report["summary"]
    steady = summary["steady_state"] or summary["whole_run"]
    start, end = steady["start_ns"], steady["end_ns"]
    coalescing = summary.get("coalescing") or {}
    stalls = summary.get("stalls") or {}
    events = stalls.get("events") or []
    server = (summary.get("server") or {}).get("window_output_tok_per_s")
    counters = summary.get("server") or {}
    itl_server = _mean_over_run(counters, "vllm:inter_token_latency_seconds")
    ttft_server = _mean_over_run(counters, "vllm:time_to_first_token_seconds")
    client = summary.get("client") or {}
    lag = client.get("loop_lag_s") or {}
    ttft = summary["ttft_s"]
    checked = coalescing.get("requests_checked") or 0
    return {
        "requests": summary["requests_ok"],
        "tpot_measured": summary["tpot_s"]["count"] / checked if checked else None,
        "shared_reads": coalescing.get("requests_with_shared_reads"),
        "checked": checked,
        "loop_lag_p99_ms": (lag.get("p99") or 0) * 1e3,
        "loop_lag_max_ms": (lag.get("max") or 0) * 1e3,
        "zero_bins": [
            (e["start_s"], e["duration_s"]) for e in events if e["kind"] == "zero_output"
        ],
        "client_stalls": [
            (e["start_s"], e["duration_s"]) for e in events if e["kind"] == "client_loop"
        ],  # fmt: skip
        "bin_s": stalls.get("bin_s"),
        "window_s": steady["duration_s"],
        "out_tok_s": steady["output_tok_per_s"],
        "server_tok_s": server,
        "vs_server": steady["output_tok_per_s"] / server - 1 if server else None,
        "ttft_p50_ms": ttft["p50"] * 1e3,
        "ttft_p99_ms": ttft["p99"] * 1e3,
        "ttft_ratio": ttft["p99"] / ttft["p50"],
        "itl_mean_ms": (summary["itl_s"].get("mean") or 0) * 1e3,
        "itl_server_ms": itl_server * 1e3 if itl_server is not None else None,
        "ttft_mean_ms": (ttft.get("mean") or 0) * 1e3,
        "ttft_server_ms": ttft_server * 1e3 if ttft_server is not None else None,
        "notes": report.get("notes") or [],
        "placement": (report["provenance"].get("placement") or {}).get("reason"),
        # the sampler's clock is CLOCK_MONOTONIC, as perf_counter_ns is on Linux
        "roles": sampler.by_role(start, end),
    }


def _mean_over_run(counters: dict[str, object], histogram: str) -> float | None:
    """Mean of a vLLM histogram over the run: Δsum / Δcount between the run's first and
    last scrape (warm-up included), or None when not scraped."""
    before, after = counters.get("before") or {}, counters.get("after") or {}
    try:
        count = after[f"{histogram}_count"] - before[f"{histogram}_count"]  # type: ignore[index]
        total = after[f"{histogram}_sum"] - before[f"{histogram}_sum"]  # type: ignore[index]
    except KeyError:
        return None
    return total / count if count > 0 else None


def print_run(k: int, f: dict[str, object], wall_s: float) -> None:
    vs = f["vs_server"]
    vs = f["vs_server"]
    zero, stalls = f["zero_bins"], f["client_stalls"]
    print(
        f"run {k}: {f['requests']} requests, window {f['window_s']:.1f} s, wall {wall_s:.0f} s\n"
        f"  TPOT measured {f['tpot_measured']:.1%} of {f['checked']} (limit >= 95 %); "
        f"{f['shared_reads']} with a read carrying several chunks\n"
        f"  loop lag p99 {f['loop_lag_p99_ms']:.1f} ms (limit <= 5), max "
        f"{f['loop_lag_max_ms']:.1f} ms; client stalls over 10 x ITL p50: {_spans(stalls)}\n"
        f"  zero-output stretches ({_ms(float(f['bin_s'] or 0) * 1e3)} bins) in the window: "
        f"{_spans(zero)}\n"
        f"  output {f['out_tok_s']:.1f} tok/s vs vLLM counter {f['server_tok_s'] or 0:.1f} "
        f"({'n/a' if vs is None else f'{vs:+.2%}'}; limit 3 %)\n"
        f"  TTFT p50 {f['ttft_p50_ms']:.1f} ms, p99 {f['ttft_p99_ms']:.1f} ms, "
        f"p99/p50 {f['ttft_ratio']:.2f}\n"
        f"  mean ITL client {f['itl_mean_ms']:.2f} ms vs engine {_ms(f['itl_server_ms'])}; "
        f"mean TTFT client {f['ttft_mean_ms']:.1f} ms vs engine {_ms(f['ttft_server_ms'])}\n"
        f"  placement: {f['placement']}"
    )
    for note in f["notes"]:  # type: ignore[attr-defined]
        print(f"  note: {note}")
    for role, row in sorted(f["roles"].items()):  # type: ignore[attr-defined]
        print(f"    {role:<11} CPU {row['cpu']:6.1%}  waiting for a CPU {row['wait']:6.1%}  "
              f"ran on CPUs (samples) {row['cpus']}")  # fmt: skip


def _spans(spans: object) -> str:
    """'none', or how many stretches, their total and the first three as start+length s."""
    items = list(spans)  # type: ignore[call-overload]
    if not items:
        return "none"
    total = sum(d for _, d in items)
    first = ", ".join(f"{t:.2f}+{d:.2f}" for t, d in items[:3])
    return f"{len(items)}, {total:.1f} s in all (first at {first} s)"


def _ms(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f} ms"  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--run-args", default=None,
                    help="run `bench run --model tiny-llama --hardware cpu-local ARGS` instead "
                    "of scripts/demo.sh")  # fmt: skip
    ap.add_argument("--placement", choices=["auto", "off"], default="auto")
    ap.add_argument("--cold", action="store_true",
                    help="empty vLLM's compile cache before the first run")  # fmt: skip
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "small_hosts")
    args = ap.parse_args()
    if args.cold and COMPILE_CACHE.exists():
        shutil.rmtree(COMPILE_CACHE)
        print(f"emptied {COMPILE_CACHE}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    results = []
    for k in range(1, args.runs + 1):
        out = args.out / f"{stamp}-{k}"
        bench = [str(REPO / ".venv" / "bin" / "bench")]
        if args.run_args is None:
            command = ["bash", "scripts/demo.sh", "--out", str(out), "--placement", args.placement]
        else:
            command = [*bench, "run", "--model", "tiny-llama", "--hardware", "cpu-local",
                       *shlex.split(args.run_args), "--out", str(out),
                       "--placement", args.placement]  # fmt: skip
        pressure = Path("/proc/pressure/cpu").read_text().split()[1]
        run_dir, sampler, wall = run_once(command, out)
        f = figures(run_dir, sampler)
        print(f"(cpu pressure before the run: {pressure})")
        print_run(k, f, wall)
        results.append(f)
    rates = [float(f["out_tok_s"]) for f in results]  # type: ignore[arg-type]
    if len(rates) > 1:
        mean = statistics.mean(rates)
        cv = statistics.stdev(rates) / mean
        print(f"\noutput tok/s over {len(rates)} runs: {', '.join(f'{r:.1f}' for r in rates)}; "
              f"mean {mean:.1f}, CV {cv:.2%} (limit 5 %)")  # fmt: skip
        for k, r in enumerate(rates, 1):
            others = statistics.mean(rates[: k - 1] + rates[k:])
            print(f"  run {k} vs the mean of the others: {r / others - 1:+.2%}")


if __name__ == "__main__":
    main()
