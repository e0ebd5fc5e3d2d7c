"""The inference check: one managed vLLM server, a short benchmark per call.

`ServedInference` starts `vllm serve` once, at the first call (so a soak does not pay
start-up per run, and the microbenchmarks before it have the GPUs to themselves), and
each call runs `bench.runner.run_benchmark` into `<out_dir>/inference-NNN/`, returning the
steady-state output tok/s (whole-run when there is no steady state) as an
`InferenceOutcome`. It is the `inference` callable `run_acceptance` expects.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bench.accept.bands import Bands
from bench.accept.checklib import squash
from bench.accept.records import InferenceOutcome
from bench.report.records import Report

if TYPE_CHECKING:
    from bench.engines.served import Served


class ServedInference:
    """Context manager; call it to run one benchmark. The server stops on exit."""

    def __init__(
        self,
        *,
        model: str,
        sku: str,
        out_dir: Path,
        input_tokens: int,
        output_tokens: int,
        concurrency: int,
        num_requests: int,
        warmup_requests: int = 2,
    ) -> None:
        self.model = model
        self.sku = sku
        self.out_dir = out_dir
        self.workload = f"{input_tokens}/{output_tokens} tokens, concurrency {concurrency}"
        self._shape = (input_tokens, output_tokens, concurrency, num_requests, warmup_requests)
        self._calls = 0
        self._engine = contextlib.ExitStack()
        self._served: Served | None = None
        self._plan: Any = None
        self._start_failure: str | None = None

    def _config(self, run_dir: Path) -> Any:
        from bench.config.run import ConcurrencyLoad, RunConfig, ShapeWorkload

        inp, out, conc, n, warm = self._shape
        return RunConfig(
            model=self.model,
            workload=ShapeWorkload(input_tokens=inp, output_tokens=out),
            load=ConcurrencyLoad(concurrency=conc),
            num_requests=n,
            warmup_requests=warm,
            hardware=self.sku,
            output_dir=run_dir,
        )

    def __enter__(self) -> ServedInference:
        """Validate model and SKU now (a UserError before any work); the server starts at
        the first call, after the microbenchmarks, whose GPU memory it would otherwise take."""
        from bench.config.plan import plan_run

        self._plan = plan_run(self._config(self.out_dir / "inference-000"))
        return self

    def _start(self) -> Served:
        from bench.engines import serve

        if self._start_failure is not None:  # a soak does not retry a server that never came up
            raise RuntimeError(f"vLLM server did not start: {self._start_failure}")
        try:
            self._served = self._engine.enter_context(
                serve(self._plan, self.out_dir / "inference-server.log")
            )
        except Exception as exc:
            self._start_failure = str(exc).splitlines()[0]
            raise
        return self._served

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._engine.close()

    def __call__(self) -> InferenceOutcome:
        """One benchmark run; raises (RunFailed, ...) when it cannot complete."""
        from dataclasses import replace

        from bench.runner import run_benchmark

        if self._plan is None:
            raise RuntimeError("use ServedInference as a context manager")
        served = self._served or self._start()
        self._calls += 1
        run_dir = self.out_dir / f"inference-{self._calls:03d}"
        config = self._config(run_dir)
        report = run_benchmark(config, served=served, plan=replace(self._plan, config=config))
        return outcome_from_report(
            report, model=self.model, workload=self.workload, run_dir=run_dir
        )


def outcome_from_report(
    report: Report, *, model: str, workload: str, run_dir: Path
) -> InferenceOutcome:
    """Steady-state output tok/s of a finished run (whole-run when there is no steady state)."""
    summary = report.summary
    if summary is None:
        return InferenceOutcome(
            output_tok_per_s=None,
            model=model,
            workload=workload,
            run_dir=str(run_dir),
            error=report.failure or "the run measured no request",
        )
    window = summary.steady_state or summary.whole_run
    return InferenceOutcome(
        output_tok_per_s=window.output_tok_per_s,
        model=model,
        workload=f"{workload} ({window.label} window)",
        requests_ok=summary.requests_ok,
        requests_failed=summary.requests_failed,
        run_dir=str(run_dir),
        duration_s=window.duration_s,
    )


def catalog_model_for_band(band_model: str | None, catalog_ids: list[str]) -> str | None:
    """The catalog id a band's free-text model names, if exactly one matches.

    Match = the id's letters and digits appear in the band text's letters and digits:
    "llama-3.1-8b" ↔ "Llama 3.1 8B (FP8, TP1)". None when nothing or several match.
    """
    if not band_model:
        return None
    text = squash(band_model)
    hits = [i for i in catalog_ids if squash(i) and squash(i) in text]
    return hits[0] if len(hits) == 1 else None


def served_inference(
    bands: Bands,
    sku: str,
    out_dir: Path,
    *,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    concurrency: int | None = None,
    num_requests: int | None = None,
) -> ServedInference:
    """The managed-vLLM inference check of `sku`, each figure defaulting by SKU kind:
    a GPU SKU 1000/1000 tokens at concurrency 256 over 512 requests, a CPU SKU 128/64 at 8
    over 32; the model defaults to the catalog entry the band names, else tiny-llama."""
    if model is None:
        from bench.catalog import load_catalog

        catalog, _ = load_catalog()
        ids = [m.id for m in catalog.models]
        model = catalog_model_for_band(bands.inference_model, ids) or "tiny-llama"
    gpu = bands.expected_gpus > 0
    return ServedInference(
        model=model,
        sku=sku,
        out_dir=out_dir,
        input_tokens=input_tokens or (1000 if gpu else 128),
        output_tokens=output_tokens or (1000 if gpu else 64),
        concurrency=concurrency or (256 if gpu else 8),
        num_requests=num_requests or (512 if gpu else 32),
    )
