"""Token-exact prompts, counted the way the server counts them.

Counting (what vLLM's OpenAI server does with the model's own tokenizer):
- completions: `tokenizer(prompt)` with special tokens (BOS is added where the tokenizer
  adds it);
- chat: the chat template rendered with `add_generation_prompt=True`, then encoded without
  special tokens (the template writes them). Image/video parts are dropped from the
  messages before counting, so this is the prompt's text-only length.

Synthesis: text is a window of the bundled corpus (`bench/data/tiny_corpus.txt`), tokenised
once per tokenizer, so decode→encode round trips stay stable (random token ids do not:
vllm-project/vllm#10847). Each piece of text starts with a unique tag drawn from the
request's generator, so no two requests share a first cache block unless a workload
asks for a shared prefix. `fit_text` adjusts the window until the rendered prompt has
exactly the requested length (a few rounds; the result is reported, never assumed).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from bench.errors import UserError

Messages = list[dict[str, Any]]
FIT_ROUNDS = 12


def text_only(messages: Messages) -> Messages:
    """The messages with image/video parts removed (text parts kept, in order)."""
    out: Messages = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = [p for p in content if p.get("type") == "text"]
            out.append({**message, "content": parts})
        else:
            out.append(message)
    return out


def count_completion(tokenizer: Any, prompt: str) -> int:
    """Tokens of a completions prompt: the tokenizer's encoding with its special tokens."""
    return len(tokenizer(prompt)["input_ids"])


def render_chat(tokenizer: Any, messages: Messages) -> str:
    """The chat template applied to the text-only messages, with the generation prompt."""
    try:
        return str(
            tokenizer.apply_chat_template(
                text_only(messages), tokenize=False, add_generation_prompt=True
            )
        )
    except ValueError as exc:  # no chat template
        raise UserError(
            f"the tokenizer has no chat template: {exc}",
            field="workload.api",
            fix="use api: completions for this model, or a model with a chat template",
        ) from None


def count_chat(tokenizer: Any, messages: Messages) -> int:
    """Tokens of a chat prompt's text: the rendered template, encoded without specials."""
    return len(tokenizer.encode(render_chat(tokenizer, messages), add_special_tokens=False))


class TextSource:
    """A tokenizer plus the corpus as its token ids; hands out token-exact text.

    `TextSource.of(tokenizer)` reuses one source per tokenizer object (tokenising the
    corpus takes a noticeable fraction of a second).
    """

    _cache: weakref.WeakKeyDictionary[Any, TextSource] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, tokenizer: Any) -> TextSource:
        try:
            return cls._cache[tokenizer]
        except KeyError:
            source = cls._cache[tokenizer] = cls(tokenizer)
            return source
        except TypeError:  # not weak-referenceable: no caching
            return cls(tokenizer)

    def __init__(self, tokenizer: Any, corpus: str | None = None) -> None:
        self.tokenizer = tokenizer
        text = corpus if corpus is not None else default_corpus()
        self.specials = sorted((s for s in _special_strings(tokenizer) if s), key=len, reverse=True)
        ids = tokenizer.encode(self._clean(text), add_special_tokens=False)
        if len(ids) < 64:
            raise ValueError("corpus too short: need at least 64 tokens")
        self.ids = np.asarray(ids, dtype=np.int64)

    def _clean(self, text: str) -> str:
        # the corpus must never spell a special token ("<image>", "</s>"): the server would
        # parse it as one
        for special in self.specials:
            text = text.replace(special, " ")
        return text

    def tag(self, rng: np.random.Generator) -> str:
        """A short unique tag ("[ref 5f0c2a91d3] ") that makes a prompt's first block unique."""
        return f"[ref {int(rng.integers(0, 2**40)):010x}] "

    def fit(
        self,
        target: int,
        count: Callable[[str], int],
        rng: np.random.Generator,
        *,
        tag: bool = True,
    ) -> tuple[str, int]:
        """Text `t` such that `count(t) == target`, or the closest found; returns (t, count).

        `count` maps the variable text to the full prompt length (template, BOS, other
        messages included). The text is `tag + corpus window`; the window length is
        corrected by the observed difference each round.
        """
        head = self.tag(rng) if tag else ""
        base = count(head)
        need = max(0, target - base)
        start = int(rng.integers(0, len(self.ids)))
        best: tuple[int, str, int] | None = None
        for _ in range(FIT_ROUNDS):
            text = head + self._window_at(start, need)
            actual = count(text)
            miss = abs(actual - target)
            if best is None or miss < best[0]:
                best = (miss, text, actual)
            if miss == 0:
                break
            need = max(0, need + (target - actual))
        assert best is not None
        return best[1], best[2]

    def _window_at(self, start: int, n_tokens: int) -> str:
        if n_tokens <= 0:
            return ""
        reps = -(-(start + n_tokens) // len(self.ids))
        ids = np.tile(self.ids, reps) if reps > 1 else self.ids
        return self._clean(self.tokenizer.decode(ids[start : start + n_tokens].tolist()))


def _special_strings(tokenizer: Any) -> list[str]:
    names = list(getattr(tokenizer, "all_special_tokens", []) or [])
    getter = getattr(tokenizer, "get_added_vocab", None)
    if getter is not None:
        names += list(getter().keys())
    return names


def default_corpus() -> str:
    """The text bundled with the package (also the tiny tokenizer's training text)."""
    return resources.files("bench.data").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")


def server_token_count(
    base_url: str,
    model: str,
    body: dict[str, Any],
    api: str,
    *,
    api_key: str | None = None,
    timeout_s: float = 30.0,
) -> int | None:
    """Prompt tokens as the server counts them, via vLLM's `POST /tokenize`; None if absent.

    Sends `{"model", "prompt"}` (completions) or `{"model", "messages",
    "add_generation_prompt": true}` (chat) and returns the response's `count`. Servers
    without the endpoint (404/405/501, not vLLM) give None.
    """
    if api == "chat":
        payload: dict[str, Any] = {
            "model": model,
            "messages": body["messages"],
            "add_generation_prompt": True,
        }
    else:
        payload = {"model": model, "prompt": body["prompt"]}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(
        base_url.rstrip("/") + "/tokenize",
        data=json.dumps(payload).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(json.loads(resp.read())["count"])
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405, 501):
            return None
        raise
