"""Scrape vLLM's Prometheus /metrics during a run and read its counters over a window.

Counters are summed over their label sets (engines, finish reasons) and read at a window's
edges by linear interpolation between the scrapes around each edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field

import aiohttp

from bench.records import ServerCounters

TRACKED = (
    "vllm:generation_tokens_total",
    "vllm:prompt_tokens_total",
    "vllm:request_success_total",
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:num_preemptions_total",
    "vllm:prefix_cache_hits_total",
    "vllm:prefix_cache_queries_total",
    # the engine core's own timestamps per token (sum and count of each histogram), to set
    # beside the client's: what the engine did vs what reached the client
    "vllm:inter_token_latency_seconds_sum",
    "vllm:inter_token_latency_seconds_count",
    "vllm:time_to_first_token_seconds_sum",
    "vllm:time_to_first_token_seconds_count",
)
NS_PER_S = 1_000_000_000
MAX_EXPOSITION_BYTES = 16 * 2**20


def parse_exposition(text: str, names: tuple[str, ...] = TRACKED) -> dict[str, float]:
    """Sum the samples of each metric in `names` over all label sets.

    Only plain sample lines are read (`name{labels} value [timestamp]`); comments skipped,
    and so are NaN and infinite values (a counter cannot be either; none may reach a report).
    """
    totals: dict[str, float] = {}
    wanted = set(names)
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        name_end = brace if brace >= 0 else line.find(" ")
        name = line[:name_end]
        if name not in wanted:
            continue
        rest = line[line.rfind("}") + 1 :] if brace >= 0 else line[name_end:]
        parts = rest.split()
        if not parts:
            continue
        try:
            value = float(parts[0])
        except ValueError:
            continue
        if not math.isfinite(value):
            continue
        totals[name] = totals.get(name, 0.0) + value
    return totals


def counter_at(scrapes: list[tuple[int, dict[str, float]]], name: str, t_ns: int) -> float | None:
    """Counter value at `t_ns` by linear interpolation; None outside the scraped span."""
    points = [(t, s[name]) for t, s in scrapes if name in s]
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t0 <= t_ns <= t1:
            if t1 == t0:
                return v1
            return v0 + (v1 - v0) * (t_ns - t0) / (t1 - t0)
    return None


@dataclass
class Scraper:
    """Background scraper: `await start()`, run the load, `await stop()`, then `summary()`."""

    base_url: str
    period_s: float = 0.5
    scrapes: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    errors: int = 0
    last_error: str | None = None
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _scrape_once(self, session: aiohttp.ClientSession) -> None:
        """One scrape; any failure (HTTP error, not UTF-8, oversized, unreachable) is
        counted in `errors`, the last one kept in `last_error`."""
        try:
            async with session.get(self.base_url.rstrip("/") + "/metrics") as resp:
                body = await resp.content.read(MAX_EXPOSITION_BYTES + 1)
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                if len(body) > MAX_EXPOSITION_BYTES:
                    raise ValueError(f"more than {MAX_EXPOSITION_BYTES} bytes")
                text = body.decode("utf-8")
                self.scrapes.append((time.perf_counter_ns(), parse_exposition(text)))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            self.errors += 1  # UnicodeDecodeError is a ValueError
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]

    async def _loop(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._stop.is_set():
                await self._scrape_once(session)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.period_s)
            await self._scrape_once(session)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def summary(self, window: tuple[int, int] | None) -> ServerCounters:
        """Counters before/after the run and generated/prompt tokens over `window`."""
        if not self.scrapes:
            return ServerCounters(
                endpoint=self.base_url,
                scrapes=0,
                note=f"/metrics not readable ({self.errors} errors; last: {self.last_error})",
            )
        fields: dict[str, object] = {}
        note = None
        if window is not None:
            start, end = window
            gen = [counter_at(self.scrapes, "vllm:generation_tokens_total", t) for t in window]
            prm = [counter_at(self.scrapes, "vllm:prompt_tokens_total", t) for t in window]
            if None not in gen:
                gen_tokens = gen[1] - gen[0]  # type: ignore[operator]
                fields.update(
                    window_start_ns=start,
                    window_end_ns=end,
                    window_generation_tokens=gen_tokens,
                    window_output_tok_per_s=gen_tokens / ((end - start) / NS_PER_S),
                )
            else:
                note = "window not covered by scrapes"
            if None not in prm:
                fields["window_prompt_tokens"] = prm[1] - prm[0]  # type: ignore[operator]
        return ServerCounters(
            endpoint=self.base_url,
            scrapes=len(self.scrapes),
            before=self.scrapes[0][1],
            after=self.scrapes[-1][1],
            note=note,
            **fields,  # type: ignore[arg-type]
        )
