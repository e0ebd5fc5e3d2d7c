"""vLLM-exact payloads of the synthetic server: SSE events, JSON bodies, /metrics, /v1/models.

Everything here is pure (values in, bytes out) so it is tested without a socket. Payloads
are byte-for-byte what vLLM 0.32's OpenAI server sends (pydantic `model_dump_json`, compact
separators), each SSE event framed as one HTTP/1.1 chunk (`<hex len>\\r\\n<event>\\r\\n`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from bench.synth.http1 import LAST_CHUNK, http_chunk

# The word each output token is rendered as: whitespace-splitting the streamed text counts
# exactly the completion tokens, mirroring how prompt tokens are counted (`count_words`).
TOKEN_TEXT = " tok"


SSE_DONE = http_chunk(b"data: [DONE]\n\n")


def sse(obj_json: str) -> bytes:
    """One SSE event `data: <json>\\n\\n` framed as one HTTP chunk (vLLM yields one per event)."""
    return http_chunk(b"data: " + obj_json.encode() + b"\n\n")


def error_json(message: str, err_type: str, code: int, *, spaced: bool = False) -> str:
    """vLLM's `ErrorResponse`; `spaced=True` is the `json.dumps` form used inside streams."""
    obj = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return json.dumps(obj) if spaced else json.dumps(obj, separators=(",", ":"))


def count_words(text: str) -> int:
    """Synthetic token count of a text: the number of whitespace-separated words."""
    return len(text.split())


def prompt_token_count(endpoint: str, body: dict[str, Any]) -> int:
    """Prompt tokens of a request, counted deterministically.

    completions: `prompt` string → its words; list of ints (token ids) → its length.
    chat: the words of every message's text content (string, or `{"type": "text"}` parts).

    Raises:
        ValueError: the prompt/messages field is missing or of a shape not supported.
    """
    if endpoint == "completions":
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            return count_words(prompt)
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return len(prompt)
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            return count_words(prompt[0])
        raise ValueError("'prompt' must be a string or a list of token ids (one prompt)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += count_words(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += count_words(str(part.get("text", "")))
    return total


class GenerationSpec(NamedTuple):
    """What a generation request asks for, once validated."""

    stream: bool
    max_tokens: int
    prompt_tokens: int
    include_usage: bool
    usage_each_chunk: bool


def parse_generation(
    endpoint: str, body: dict[str, Any], model: str, default_max_tokens: int, max_model_len: int
) -> GenerationSpec:
    """Validate a completions/chat request body as vLLM would, for the synthetic server.

    Output length is `max_tokens` (chat: or `max_completion_tokens`), else
    `default_max_tokens`: every request generates exactly that many (ignore_eos).

    Raises:
        LookupError: the model is not the served one (vLLM answers 404).
        ValueError: anything else invalid (400).
    """
    requested = body.get("model", model)
    if requested != model:
        raise LookupError(f"The model `{requested}` does not exist.")
    if body.get("n", 1) != 1:
        raise ValueError("the synthetic server supports only n = 1")
    max_tokens = body.get("max_tokens")
    if max_tokens is None and endpoint == "chat":
        max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = default_max_tokens
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    prompt_tokens = prompt_token_count(endpoint, body)
    if prompt_tokens + max_tokens > max_model_len:
        raise ValueError(
            f"This model's maximum context length is {max_model_len} tokens. "
            f"However, you requested {prompt_tokens + max_tokens} tokens "
            f"({prompt_tokens} in the messages, {max_tokens} in the completion)."
        )
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ValueError("stream_options must be an object")
    include_usage = bool(options.get("include_usage", False))
    each = include_usage and bool(options.get("continuous_usage_stats", False))
    return GenerationSpec(
        bool(body.get("stream", False)), max_tokens, prompt_tokens, include_usage, each
    )


@dataclass(slots=True)
class StreamPayloads:
    """Pre-encoded HTTP chunks of one streamed response (built once per request)."""

    first: bytes  # chat: role chunk + first content chunk; completions: first content chunk
    middle: bytes  # every further full content chunk (identical bytes, sent many times)
    last: bytes  # final content chunk (finish_reason "length") + trailer
    trailer: bytes  # usage chunk (if asked) + [DONE] + the end of the chunked body


def usage_json(prompt_tokens: int, completion_tokens: int) -> str:
    """vLLM's `UsageInfo` field order: prompt, total, completion."""
    total = prompt_tokens + completion_tokens
    return (
        f'{{"prompt_tokens":{prompt_tokens},"total_tokens":{total},'
        f'"completion_tokens":{completion_tokens}}}'
    )


def event_head(endpoint: str, request_id: str, created: int, model: str) -> str:
    """The shared opening of every event of one stream (id, object, created, model)."""
    obj = "text_completion" if endpoint == "completions" else "chat.completion.chunk"
    rid, mdl = json.dumps(request_id), json.dumps(model)
    return f'{{"id":{rid},"object":"{obj}","created":{created},"model":{mdl}'


def content_event(
    endpoint: str, head: str, text: str, *, final: bool, usage: str | None = None
) -> bytes:
    """One content chunk as vLLM serialises it (`exclude_unset=True`)."""
    t = json.dumps(text)
    if endpoint == "completions":
        reason = '"length"' if final else "null"
        choice = (
            f'{{"index":0,"text":{t},"logprobs":null,"finish_reason":{reason},'
            f'"stop_reason":null,"prompt_token_ids":null,"token_ids":null}}'
        )
    elif final:
        choice = (
            f'{{"index":0,"delta":{{"content":{t}}},"logprobs":null,'
            f'"finish_reason":"length","stop_reason":null,"token_ids":null}}'
        )
    else:
        choice = f'{{"index":0,"delta":{{"content":{t}}},"logprobs":null,"finish_reason":null}}'
    tail = f',"usage":{usage}' if usage is not None else ""
    return sse(f'{head},"choices":[{choice}]{tail}}}')


def role_event(head: str, usage: str | None = None) -> bytes:
    """The chat stream's first event: assistant role, empty content."""
    tail = f',"usage":{usage}' if usage is not None else ""
    return sse(
        f'{head},"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},'
        f'"logprobs":null,"finish_reason":null}}]{tail},"prompt_token_ids":null,'
        f'"prompt_text":null}}'
    )


def usage_event(head: str, prompt_tokens: int, completion_tokens: int) -> bytes:
    """The final usage event: empty choices, then usage."""
    return sse(f'{head},"choices":[],"usage":{usage_json(prompt_tokens, completion_tokens)}}}')


def stream_payloads(
    endpoint: str,
    request_id: str,
    created: int,
    model: str,
    *,
    prompt_tokens: int,
    max_tokens: int,
    tokens_per_chunk: int,
    include_usage: bool,
) -> StreamPayloads:
    """Pre-encode the chunks of one stream of `max_tokens` tokens, `tokens_per_chunk` each.

    The last chunk carries `max_tokens - (n_chunks - 1) * tokens_per_chunk` tokens. When there
    is a single chunk, `first` already is the final chunk and `last` holds only the trailer.
    """
    head = event_head(endpoint, request_id, created, model)
    n_chunks = -(-max_tokens // tokens_per_chunk)
    last_tokens = max_tokens - (n_chunks - 1) * tokens_per_chunk
    trailer = (usage_event(head, prompt_tokens, max_tokens) if include_usage else b"") + SSE_DONE
    trailer += LAST_CHUNK
    full = TOKEN_TEXT * tokens_per_chunk
    role = role_event(head) if endpoint == "chat" else b""
    final = content_event(endpoint, head, TOKEN_TEXT * last_tokens, final=True)
    if n_chunks == 1:
        return StreamPayloads(first=role + final + trailer, middle=b"", last=b"", trailer=trailer)
    return StreamPayloads(
        first=role + content_event(endpoint, head, full, final=False),
        middle=content_event(endpoint, head, full, final=False),
        last=final + trailer,
        trailer=trailer,
    )


def completion_body(
    endpoint: str,
    request_id: str,
    created: int,
    model: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
) -> bytes:
    """Non-streamed response body (vLLM `model_dump_json()`, every field present)."""
    text = json.dumps(TOKEN_TEXT * completion_tokens)
    usage = (
        f'{{"prompt_tokens":{prompt_tokens},"total_tokens":{prompt_tokens + completion_tokens},'
        f'"completion_tokens":{completion_tokens},"prompt_tokens_details":null,'
        f'"completion_tokens_details":null}}'
    )
    rid, mdl = json.dumps(request_id), json.dumps(model)
    if endpoint == "completions":
        choice = (
            f'{{"index":0,"text":{text},"logprobs":null,"finish_reason":"length",'
            f'"stop_reason":null,"token_ids":null,"prompt_logprobs":null,'
            f'"prompt_token_ids":null,"routed_experts":null}}'
        )
        return (
            f'{{"id":{rid},"object":"text_completion","created":{created},"model":{mdl},'
            f'"choices":[{choice}],"service_tier":null,"system_fingerprint":null,'
            f'"usage":{usage},"kv_transfer_params":null,"ec_transfer_params":null,'
            f'"metrics":null}}'
        ).encode()
    choice = (
        f'{{"index":0,"message":{{"role":"assistant","content":{text},"refusal":null,'
        f'"annotations":null,"audio":null,"function_call":null,"reasoning":null}},'
        f'"logprobs":null,"finish_reason":"length","stop_reason":null,"token_ids":null,'
        f'"routed_experts":null}}'
    )
    return (
        f'{{"id":{rid},"object":"chat.completion","created":{created},"model":{mdl},'
        f'"choices":[{choice}],"service_tier":null,"system_fingerprint":null,'
        f'"usage":{usage},"prompt_logprobs":null,"prompt_token_ids":null,"prompt_text":null,'
        f'"kv_transfer_params":null,"ec_transfer_params":null,"metrics":null}}'
    ).encode()


_METRICS = (
    ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."),
    ("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed."),
    ("vllm:generation_tokens_total", "counter", "Number of generation tokens processed."),
    ("vllm:request_success_total", "counter", "Count of successfully processed requests."),
)


def metrics_text(
    model: str, *, running: int, waiting: int, prompt_tokens: int, generation_tokens: int,
    success: int,
) -> str:  # fmt: skip
    """Prometheus text exposition with vLLM's metric names and labels."""
    labels = f'engine="0",model_name="{model}"'
    values = (running, waiting, prompt_tokens, generation_tokens, success)
    out = []
    for (name, kind, help_text), value in zip(_METRICS, values, strict=True):
        base = name.removesuffix("_total")
        extra = ',finished_reason="length"' if base == "vllm:request_success" else ""
        out += [f"# HELP {base} {help_text}", f"# TYPE {base} {kind}"]
        out.append(f"{name}{{{labels}{extra}}} {float(value)}")
    return "\n".join(out) + "\n"


def models_json(model: str, created: int, max_model_len: int) -> str:
    """`GET /v1/models` body with vLLM's model card fields."""
    card = {
        "id": model, "object": "model", "created": created, "owned_by": "vllm", "root": model,
        "parent": None, "max_model_len": max_model_len, "permission": [],
    }  # fmt: skip
    return json.dumps({"object": "list", "data": [card]}, separators=(",", ":"))
