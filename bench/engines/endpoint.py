"""Any OpenAI-compatible endpoint by URL (vLLM, SGLang, TensorRT-LLM ...).

The API key is read from an environment variable named in the config, never from a file,
and never written to a report or log.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from bench.errors import UserError


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


def check_endpoint(url: str, api_key_env: str | None = None, timeout_s: float = 10.0) -> list[str]:
    """GET <url>/v1/models and return the served model ids.

    Raises:
        UserError: unreachable, not OpenAI-compatible, or rejected the key.
    """
    key = api_key_from_env(api_key_env)
    request = urllib.request.Request(url.rstrip("/") + "/v1/models")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        fix = "check the API key variable" if exc.code in (401, 403) else "check the URL"
        raise UserError(
            f"endpoint answered HTTP {exc.code}", file=url, field="--endpoint", fix=fix
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"endpoint unreachable ({reason})",
            file=url,
            field="--endpoint",
            fix="start the server or correct the URL (e.g. http://127.0.0.1:8000)",
        ) from None
    except json.JSONDecodeError:
        raise UserError(
            "endpoint /v1/models did not return JSON",
            file=url,
            field="--endpoint",
            fix="give the base URL of an OpenAI-compatible server",
        ) from None
    return [m.get("id", "") for m in data.get("data", [])]
