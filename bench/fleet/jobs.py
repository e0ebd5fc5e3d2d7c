"""What runs on each node of a fleet: one `bench run` or `bench accept`, shipped back whole.

`run_node_task` is the function Ray executes on the node (pinned there by node affinity).
It works in a temporary directory, registers nothing on the node (the node's results
store is pointed into that directory), packs the output directory into a gzipped tar and
returns it in a `JobResult`; the driver unpacks it and registers it centrally.

A run that fails part-way (`RunFailed`: dead server, endpoint gone) still ships its
partial run directory, with `failure` set. Any other exception propagates to the driver,
which reports it as the node's reason.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.errors import RunFailed
from bench.fleet.records import AcceptJob, JobResult, NodeTask, RunJob, SynthTiming

RUN_SUBDIR = "run"
_NODE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}


def pack(directory: Path) -> bytes:
    """The directory's contents as a gzipped tar (paths relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in sorted(directory.iterdir()):
            tar.add(item, arcname=item.name)
    return buffer.getvalue()


def unpack(archive: bytes, dest: Path) -> Path:
    """Extract `archive` into `dest` so that `dest` appears whole or not at all.

    Extraction uses tarfile's `data` filter: no absolute paths, no `..`, no links out,
    no device files. An existing `dest` is replaced (a rerun of the same attempt).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


@contextlib.contextmanager
def node_environment(work: Path) -> Iterator[None]:
    """Offline hub, and a throwaway results store inside `work` (the central store is the
    driver's); the previous environment comes back afterwards (Ray reuses workers)."""
    saved = dict(os.environ)
    os.environ["TOKENBENCH_STORE"] = str(work / "node-index.sqlite")
    for key, value in _NODE_ENV.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_node_task(task: NodeTask) -> JobResult:
    """Run `task` on this node and return its output directory packed (see module doc)."""
    from bench import __version__

    start = time.perf_counter_ns()
    work = Path(tempfile.mkdtemp(prefix="tokenbench-fleet-"))
    out = work / "out"
    out.mkdir()
    verdict: str | None = None
    try:
        with node_environment(work):
            if isinstance(task.job, RunJob):
                failure = run_job(task, task.job, out / RUN_SUBDIR)
            else:
                failure, verdict = accept_job(task, task.job, out)
        archive = pack(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return JobResult(
        name=task.name,
        node_id=task.node_id,
        host=socket.gethostname(),
        tokenbench_version=__version__,
        failure=failure,
        archive=archive,
        duration_s=(time.perf_counter_ns() - start) / 1e9,
        verdict=verdict,
    )


def synth_server(timing: SynthTiming, model: str) -> Any:
    """A `SynthServer` (not started) with the node's timing, serving `model`."""
    from bench.synth.control import SynthServer
    from bench.synth.records import SynthConfig

    return SynthServer(
        SynthConfig(
            model=model,
            ttft_s=timing.ttft_s if timing.ttft_s is not None else 0.05,
            itl_s=timing.itl_s if timing.itl_s is not None else 0.005,
            tokens_per_chunk=timing.tokens_per_chunk or 1,
        )
    )


def run_job(task: NodeTask, job: RunJob, run_dir: Path) -> str | None:
    """`bench run` of the job's config into `run_dir`, as the node's SKU; the failure
    message when the run stopped part-way (its partial directory is kept)."""
    from bench.config.run import EndpointEngine
    from bench.runner import execute_run

    config = job.run.model_copy(update={"output_dir": run_dir, "hardware": task.sku})
    with contextlib.ExitStack() as stack:
        if task.synth is not None:
            server = stack.enter_context(synth_server(task.synth, job.run.model))
            engine = EndpointEngine(url=server.base_url, served_model=job.run.model)
            config = config.model_copy(update={"engine": engine})
        try:
            execute_run(config)
        except RunFailed as exc:
            return str(exc)
    return None


def accept_job(task: NodeTask, job: AcceptJob, out: Path) -> tuple[str | None, str]:
    """`bench accept` of this node as its SKU into `out`; (None, overall verdict)."""
    from bench.accept.bands import bands_for_sku
    from bench.accept.micro_records import MicroSizes
    from bench.accept.run import run_acceptance

    bands = bands_for_sku(task.sku)
    with contextlib.ExitStack() as stack:
        inference: Any = None
        if job.inference and task.synth is not None:
            inference = stack.enter_context(SynthInference(task.synth, task.sku, out))
        elif job.inference:
            from bench.accept.inference import served_inference

            inference = stack.enter_context(served_inference(bands, task.sku, out, model=job.model))
        verdict = run_acceptance(
            task.sku,
            soak_s=job.soak_s,
            inference=inference,
            out_dir=out,
            bands=bands,
            sizes=MicroSizes.quick() if job.quick else None,
            micro=job.micro,
        )
    return None, verdict.overall


class SynthInference:
    """The acceptance inference check against the synthetic server started on this node
    (a rehearsal: the verdict's inference band is then not meaningful). Each call runs a
    short benchmark into `<out>/inference-NNN/` and returns its `InferenceOutcome`."""

    MODEL = "tiny-llama"
    SHAPE = (128, 64, 8, 32)  # input tokens, output tokens, concurrency, requests

    def __init__(self, timing: SynthTiming, sku: str, out: Path) -> None:
        self.timing, self.sku, self.out = timing, sku, out
        self.server: Any = None
        self.calls = 0

    def __enter__(self) -> SynthInference:
        self.server = synth_server(self.timing, self.MODEL)
        self.server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.stop()

    def __call__(self) -> Any:
        from bench.accept.inference import outcome_from_report
        from bench.config.run import RunConfig
        from bench.runner import run_benchmark

        self.calls += 1
        run_dir = self.out / f"inference-{self.calls:03d}"
        inp, outp, conc, n = self.SHAPE
        config = RunConfig.model_validate(
            {
                "model": self.MODEL,
                "workload": {"kind": "shape", "input_tokens": inp, "output_tokens": outp},
                "load": {"kind": "concurrency", "concurrency": conc},
                "engine": {"kind": "endpoint", "url": self.server.base_url},
                "num_requests": n,
                "warmup_requests": 2,
                "hardware": self.sku,
                "output_dir": str(run_dir),
            }
        )
        report = run_benchmark(config)
        workload = f"{inp}/{outp} tokens, concurrency {conc} (synthetic server)"
        return outcome_from_report(report, model=self.MODEL, workload=workload, run_dir=run_dir)
