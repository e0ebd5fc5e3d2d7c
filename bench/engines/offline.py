"""In-process `vllm.LLM` for offline maximum throughput (no server, no per-token latency).

All requests are submitted at once; the report has whole-run and steady-state throughput
(the same window here) and E2E per request as the batch's completion; TTFT, TPOT and ITL
are not measured (left empty, never invented).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.engines.served import Served
from bench.records import RequestRecord, RequestSpec

if TYPE_CHECKING:
    from bench.config.plan import RunPlan


def engine_kwargs(engine_args: list[str]) -> dict[str, Any]:
    """Map `vllm serve` style flags (from the catalog) to `vllm.LLM` keyword arguments."""
    kwargs: dict[str, Any] = {}
    i = 0
    while i < len(engine_args):
        flag = engine_args[i]
        key = flag.lstrip("-").replace("-", "_")
        if i + 1 < len(engine_args) and not engine_args[i + 1].startswith("--"):
            value: Any = engine_args[i + 1]
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            kwargs[key] = value
            i += 2
        else:
            kwargs[key] = True
            i += 1
    return kwargs


def run_offline(
    model_path: str, specs: list[RequestSpec], engine_args: list[str]
) -> list[RequestRecord]:
    """Generate every measured spec in one `LLM.generate` call; warm-up specs go first."""
    from bench.engines.managed import server_env

    # same engine environment as a managed server (offline hub, CPU KV-cache size, ...)
    os.environ.update(server_env())
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_path, **engine_kwargs(engine_args))

    def params(spec: RequestSpec) -> Any:
        body = spec.body
        max_tokens = body["max_tokens"]
        ignore_eos = body.get("ignore_eos", True)
        temperature = body.get("temperature", 0.0)
        if not (
            isinstance(max_tokens, int)
            and isinstance(ignore_eos, bool)
            and isinstance(temperature, int | float)
        ):
            raise ValueError(f"request {spec.request_id}: malformed sampling fields")
        return SamplingParams(
            max_tokens=max_tokens, ignore_eos=ignore_eos, temperature=float(temperature)
        )

    def prompt(spec: RequestSpec) -> Any:
        if "prompt" in spec.body:
            return spec.body["prompt"]
        raise ValueError("the offline engine takes completions-style prompts (--api completions)")

    warmup = [s for s in specs if s.warmup]
    measured = [s for s in specs if not s.warmup]
    if warmup:
        llm.generate([prompt(s) for s in warmup], [params(s) for s in warmup], use_tqdm=False)
    start = time.perf_counter_ns()
    outputs = llm.generate(
        [prompt(s) for s in measured], [params(s) for s in measured], use_tqdm=False
    )
    end = time.perf_counter_ns()
    records = []
    for index, (spec, out) in enumerate(zip(measured, outputs, strict=True)):
        n_out = len(out.outputs[0].token_ids)
        records.append(
            RequestRecord(
                request_id=spec.request_id,
                index=index,
                status="ok",
                sent_ns=start,
                done_ns=end,
                last_chunk_ns=end,
                chunk_ns=[end],
                chunk_tokens=[n_out],
                input_tokens=len(out.prompt_token_ids or []),
                output_tokens=n_out,
                client_output_tokens=n_out,
                requested_input_tokens=spec.requested_input_tokens,
                requested_output_tokens=spec.requested_output_tokens,
                text_input_tokens=spec.text_input_tokens,
            )
        )
    return records


@contextlib.contextmanager
def serve_offline(plan: RunPlan, log_path: Path, say: Callable[[str], None]) -> Iterator[Served]:
    """The model's files for an in-process `vllm.LLM` (`run_offline` loads them): nothing to
    start here and no URL to send to."""
    from bench.models.resolve import resolve_model

    yield Served(served_model=plan.config.model, model_path=resolve_model(plan.entry))
