"""Check built prompts against the server's own tokenizer (`POST /tokenize`, vLLM).

The check compares `text_input_tokens` (our count of the text-only prompt) with the
server's count of the same text-only prompt; media parts are dropped on both sides,
since the server's count of an image depends on its processor.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bench.records import Record, RequestSpec
from bench.workloads.tokens import server_token_count, text_only


class TokenCheck(Record):
    request_id: str
    client_tokens: int
    server_tokens: int
    difference: int = Field(description="server − client")


class ServerCheck(Record):
    rows: list[TokenCheck]
    agree: int
    within_one: int


def verify_with_server(
    specs: list[RequestSpec], base_url: str, model: str, *, api_key: str | None = None
) -> ServerCheck | None:
    """Server vs client counts for every spec with a client count; None without /tokenize."""
    rows = []
    for spec in specs:
        if spec.text_input_tokens is None:
            continue
        body: dict[str, Any] = dict(spec.body)
        if spec.api == "chat":
            body["messages"] = text_only(body["messages"])
        server = server_token_count(base_url, model, body, spec.api, api_key=api_key)
        if server is None:
            return None
        rows.append(
            TokenCheck(
                request_id=spec.request_id,
                client_tokens=spec.text_input_tokens,
                server_tokens=server,
                difference=server - spec.text_input_tokens,
            )
        )
    return ServerCheck(
        rows=rows,
        agree=sum(1 for r in rows if r.difference == 0),
        within_one=sum(1 for r in rows if abs(r.difference) <= 1),
    )
