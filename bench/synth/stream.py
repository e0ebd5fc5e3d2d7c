"""One generation request of the synthetic server: its schedule, payloads, what was sent."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from bench.synth.records import Endpoint, Outcome, SynthRequestRecord

if TYPE_CHECKING:
    from bench.synth.connection import Connection


class Stream:
    """One generation request in flight: its schedule, payloads and what was sent."""

    __slots__ = (
        "conn", "transport", "closed", "keep_alive", "rid", "seq", "endpoint", "stream",
        "prompt_tokens", "max_tokens", "received_ns", "due0", "gap", "k", "n", "tpc",
        "last_tokens", "fail_at", "first", "middle", "last", "trailer", "body", "usage_each",
        "head", "sent", "backlogged", "plain",
    )  # fmt: skip
    conn: Connection
    transport: Any
    closed: bool
    keep_alive: bool
    rid: str
    seq: int
    endpoint: Endpoint
    stream: bool
    prompt_tokens: int
    max_tokens: int
    received_ns: int
    due0: int  # when chunk 0 is due; chunk j is due at due0 + j * gap
    gap: int
    k: int  # next chunk to send
    n: int  # chunks in all
    tpc: int  # tokens per chunk (the last chunk has last_tokens)
    last_tokens: int
    fail_at: int  # chunk index replaced by an error event, -1 for none
    first: bytes
    middle: bytes
    last: bytes
    trailer: bytes
    body: bytes | None  # a whole non-streamed response
    usage_each: bool
    head: str
    sent: array[int]
    backlogged: int
    plain: bool

    def __init__(self) -> None:
        self.closed = False
        self.plain = False  # a streamed request on the hot path (see SynthCore._fire)
        self.k = 0
        self.fail_at = -1
        self.body = None
        self.usage_each = False
        self.sent = array("q")
        self.backlogged = 0

    def tokens_sent(self) -> int:
        """Tokens handed to the kernel so far."""
        if self.body is not None:
            return self.max_tokens if self.sent else 0
        return min(len(self.sent) * self.tpc, self.max_tokens)

    def to_record(self, outcome: Outcome, completion_tokens: int) -> SynthRequestRecord:
        """The record of what was sent (due times follow from due0 and the gap)."""
        sent = list(self.sent)
        if self.body is not None:
            chunk_tokens = [self.max_tokens] * len(sent)
        else:
            chunk_tokens = [self.tpc] * len(sent)
            if sent and len(sent) == self.n:
                chunk_tokens[-1] = self.last_tokens
        return SynthRequestRecord(
            request_id=self.rid, seq=self.seq, endpoint=self.endpoint, stream=self.stream,
            prompt_tokens=self.prompt_tokens, max_tokens=self.max_tokens,
            completion_tokens=completion_tokens, outcome=outcome, received_ns=self.received_ns,
            chunk_due_ns=[self.due0 + j * self.gap for j in range(len(sent))],
            chunk_sent_ns=sent, chunk_tokens=chunk_tokens, backlogged_chunks=self.backlogged,
        )  # fmt: skip
