"""The client's timestamps against the synthetic server's own record, request by request.

Both sides stamp with `perf_counter_ns` of one host, so differences are exact:

    send delay     = server received_ns − client sent_ns         (request on the wire + read)
    TTFT error     = client TTFT − server TTFT
                   = (client chunk_ns[0] − sent_ns) − (server chunk_sent_ns[0] − received_ns)
    receive delay  = client chunk_ns[j] − server chunk_sent_ns[j]  (per chunk)
    ITL error      = client gap j − server gap j = receive delay[j+1] − receive delay[j]

Requests are matched by id: the client sends `X-Request-Id: <request_id>`, the server
records `cmpl-<id>` (completions) or `chatcmpl-<id>` (chat).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.metrics.latency import NS_PER_S, distribution
from bench.records import Distribution, Record, RequestRecord
from bench.synth.records import SynthRequestRecord


class Fidelity(Record):
    """How far the client's timing is from what the server actually did (seconds)."""

    matched: int
    unmatched: int
    chunk_count_mismatches: int
    client_ttft_s: Distribution
    send_delay_s: Distribution
    ttft_error_s: Distribution
    receive_delay_s: Distribution
    itl_error_s: Distribution
    client_itl_p99_s: float | None
    server_itl_p99_s: float | None

    @property
    def itl_p99_error_s(self) -> float | None:
        """|client ITL p99 − server ITL p99|."""
        if self.client_itl_p99_s is None or self.server_itl_p99_s is None:
            return None
        return abs(self.client_itl_p99_s - self.server_itl_p99_s)


def server_id(request_id: str) -> tuple[str, str]:
    """The ids the synthetic server records for a client request id (completions, chat)."""
    return f"cmpl-{request_id}", f"chatcmpl-{request_id}"


def match(
    client: Sequence[RequestRecord], server: Sequence[SynthRequestRecord]
) -> tuple[list[tuple[RequestRecord, SynthRequestRecord]], int]:
    """(pairs of successful client records with their server record, unmatched count)."""
    by_id = {r.request_id: r for r in server}
    pairs = []
    unmatched = 0
    for rec in client:
        if rec.status != "ok":
            continue
        a, b = server_id(rec.request_id)
        found = by_id.get(a) or by_id.get(b)
        if found is None:
            unmatched += 1
        else:
            pairs.append((rec, found))
    return pairs, unmatched


def _gaps(times: Sequence[int]) -> list[int]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def fidelity(client: Sequence[RequestRecord], server: Sequence[SynthRequestRecord]) -> Fidelity:
    """Compare every matched successful request; chunks only where both counted the same."""
    pairs, unmatched = match(client, server)
    send: list[float] = []
    ttft: list[float] = []
    client_ttft: list[float] = []
    receive: list[float] = []
    itl_err: list[float] = []
    client_gaps: list[float] = []
    server_gaps: list[float] = []
    mismatches = 0
    for rec, srv in pairs:
        send.append((srv.received_ns - rec.sent_ns) / NS_PER_S)
        if not rec.chunk_ns or not srv.chunk_sent_ns:
            continue
        measured_ns = rec.chunk_ns[0] - rec.sent_ns
        server_ttft = srv.chunk_sent_ns[0] - srv.received_ns
        client_ttft.append(measured_ns / NS_PER_S)
        ttft.append((measured_ns - server_ttft) / NS_PER_S)
        if len(rec.chunk_ns) != len(srv.chunk_sent_ns):
            mismatches += 1
            continue
        delays = [c - s for c, s in zip(rec.chunk_ns, srv.chunk_sent_ns, strict=True)]
        receive.extend(d / NS_PER_S for d in delays)
        itl_err.extend(g / NS_PER_S for g in _gaps(delays))
        client_gaps.extend(g / NS_PER_S for g in _gaps(rec.chunk_ns))
        server_gaps.extend(g / NS_PER_S for g in _gaps(srv.chunk_sent_ns))
    return Fidelity(
        matched=len(pairs),
        unmatched=unmatched,
        chunk_count_mismatches=mismatches,
        client_ttft_s=distribution(client_ttft),
        send_delay_s=distribution(send),
        ttft_error_s=distribution(ttft),
        receive_delay_s=distribution(receive),
        itl_error_s=distribution(itl_err),
        client_itl_p99_s=distribution(client_gaps).p99,
        server_itl_p99_s=distribution(server_gaps).p99,
    )
