"""Any OpenAI-compatible endpoint by URL (vLLM, SGLang, TensorRT-LLM ...).

The API key is read from an environment variable named in the config, never from a file,
and never written to a report or log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from bench.engines.served import Served
from bench.errors import UserError

if TYPE_CHECKING:
    from bench.config.plan import RunPlan


def api_key_from_env(env_name: str | None) -> str | None:
    """The API key from `$env_name`, or None when no variable was named.

    Raises:
        UserError: the variable is named but not set.
    """
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise UserError(
            f"environment variable {env_name} is not set",
            field="--api-key-env",
            fix=f"export {env_name}=<key>, or omit --api-key-env for an open endpoint",
        )
    return value


@dataclass(frozen=True)
class EndpointCheck:
    """What `GET /v1/models` said: the served model ids, or a note on why they are unknown
    (an answer that was malformed or too slow does not stop a run: the note goes into its
    report)."""

    models: list[str]
    note: str | None = None


MAX_MODELS_BYTES = 4 * 2**20


def check_endpoint(
    url: str, api_key_env: str | None = None, timeout_s: float = 10.0
) -> EndpointCheck:
    """GET <url>/v1/models, `timeout_s` in all (a server that drips its answer is cut off).

    Raises:
        UserError: unreachable, or it answered with an HTTP error (401/403: the key).
    """
    key = api_key_from_env(api_key_env)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        status, body = asyncio.run(_get(url.rstrip("/") + "/v1/models", headers, timeout_s))
    except TimeoutError:
        return EndpointCheck([], f"/v1/models did not answer within {timeout_s:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        raise UserError(
            f"endpoint unreachable ({exc})",
            file=url,
            field="--endpoint",
            fix="start the server or correct the URL (e.g. http://127.0.0.1:8000)",
        ) from None
    if status != 200:
        fix = "check the API key variable" if status in (401, 403) else "check the URL"
        raise UserError(f"endpoint answered HTTP {status}", file=url, field="--endpoint", fix=fix)
    return models_from(body)


def models_from(body: bytes) -> EndpointCheck:
    """The model ids of a `/v1/models` answer, or a note saying what was wrong with it."""
    try:
        data = json.loads(body.decode("utf-8"))
        models = [m["id"] for m in data["data"]]
        if not all(isinstance(m, str) for m in models):
            raise TypeError("a model id is not a string")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return EndpointCheck([], f"/v1/models answered something other than a model list "
                             f"({type(exc).__name__}: {exc})"[:300])  # fmt: skip
    return EndpointCheck(models)


async def _get(url: str, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as resp,
    ):
        body = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            body += chunk
            if len(body) > MAX_MODELS_BYTES:
                break  # not a model list: models_from says so
        return resp.status, bytes(body)


@contextlib.contextmanager
def serve_endpoint(plan: RunPlan, log_path: Path, say: Callable[[str], None]) -> Iterator[Served]:
    """Check the endpoint answers (`check_endpoint`) and yield it as `Served`: prompts as
    text, the model's files only when the prompts are built with them (no --tokenizer).
    `log_path` is unused: the server is not ours."""
    from bench.config.run import EndpointEngine
    from bench.models.resolve import resolve_model

    config = plan.config
    engine = config.engine
    assert isinstance(engine, EndpointEngine)  # ENGINES dispatches "endpoint" here
    check = check_endpoint(engine.url, engine.api_key_env)
    say(f"endpoint {engine.url} answers")
    yield Served(
        served_model=engine.served_model or config.model,
        base_url=engine.url,
        model_path=None if config.tokenizer is not None else resolve_model(plan.entry),
        api_key=api_key_from_env(engine.api_key_env),
        token_ids=False,
        notes=(check.note,) if check.note else (),
    )
