"""Prompts from local dataset files (never downloaded): ShareGPT and simple JSONL.

- ShareGPT: a JSON list, or JSONL, of `{"conversations": [{"from": "human"|"gpt"|
  "system", "value": str}, ...]}` (`user`/`assistant` are accepted as `from` too).
  Conversations without a human→gpt exchange are skipped and counted, as real ShareGPT
  dumps have many; rows that are not of that shape are errors.
- JSONL: one `{"prompt": str, "max_tokens": int}` per line (`id` optional).

A malformed row raises `UserError` naming the file, the line and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError

HUMAN = {"human", "user"}
GPT = {"gpt", "assistant", "chatgpt", "bard", "bing"}
SYSTEM = {"system"}
JSONL_KEYS = {"prompt", "max_tokens", "id"}


@dataclass(frozen=True)
class Exchange:
    """One user message and the reply recorded for it (None: reply length not known)."""

    user: str
    reply: str | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Conversation:
    """A dataset row: an optional system prompt and its exchanges, in order."""

    line: int
    exchanges: list[Exchange]
    system: str | None = None


@dataclass
class Dataset:
    path: Path
    conversations: list[Conversation]
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def _items(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, parsed object) for each row of a JSON list or a JSONL file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("dataset file not found", file=path, fix="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read dataset: {exc}", file=path) from None
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    if stripped.startswith("["):
        pos = len(text) - len(stripped) + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos < len(text) and text[pos] == "]":
                return
            line = text.count("\n", 0, pos) + 1
            try:
                obj, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"invalid JSON: {exc.msg}",
                    file=path,
                    field=f"line {text.count(chr(10), 0, exc.pos) + 1}",
                    fix="fix the JSON at that line (a list of objects, comma-separated)",
                ) from None
            yield line, obj
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"invalid JSON: {exc.msg}",
                file=path,
                field=f"line {number}",
                fix="each line must be one JSON object",
            ) from None


def _bad(path: Path, line: int, message: str, fix: str) -> UserError:
    return UserError(message, file=path, field=f"line {line}", fix=fix)


def read_sharegpt(path: Path) -> Dataset:
    """Conversations of a ShareGPT JSON/JSONL file, each with ≥ 1 human→gpt exchange."""
    fix = 'each row is {"conversations": [{"from": "human"|"gpt"|"system", "value": "..."}]}'
    data = Dataset(path=path, conversations=[])
    for line, row in _items(path):
        turns = row.get("conversations") if isinstance(row, dict) else None
        if not isinstance(turns, list):
            raise _bad(path, line, "row has no `conversations` list", fix)
        system: str | None = None
        exchanges: list[Exchange] = []
        pending: str | None = None
        for k, turn in enumerate(turns):
            if not (
                isinstance(turn, dict)
                and isinstance(turn.get("from"), str)
                and isinstance(turn.get("value"), str)
            ):
                raise _bad(path, line, f"conversations[{k}] needs string `from` and `value`", fix)
            who, value = turn["from"].lower(), turn["value"]
            if who in SYSTEM and k == 0:
                system = value
            elif who in HUMAN:
                pending = value
            elif who in GPT and pending is not None:
                exchanges.append(Exchange(user=pending, reply=value))
                pending = None
            elif who not in GPT | SYSTEM:
                raise _bad(path, line, f"conversations[{k}].from is {turn['from']!r}", fix)
        if exchanges and all(e.user.strip() and e.reply for e in exchanges):
            data.conversations.append(Conversation(line=line, exchanges=exchanges, system=system))
        else:
            data.skipped += 1
    if data.skipped:
        data.notes.append(
            f"{data.skipped} conversation(s) without a usable human→gpt exchange skipped"
        )
    if not data.conversations:
        raise UserError("no usable conversation in the dataset", file=path, fix=fix)
    return data


def read_prompts_jsonl(path: Path) -> Dataset:
    """Rows `{"prompt": str, "max_tokens": int}` (and optional `id`) of a JSONL file."""
    fix = 'each line is {"prompt": "non-empty text", "max_tokens": positive integer}'
    data = Dataset(path=path, conversations=[])
    for line, row in _items(path):
        if not isinstance(row, dict):
            raise _bad(path, line, "row is not a JSON object", fix)
        unknown = sorted(set(row) - JSONL_KEYS)
        if unknown:
            raise _bad(path, line, f"unknown key(s) {', '.join(unknown)}", fix)
        prompt, max_tokens = row.get("prompt"), row.get("max_tokens")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(path, line, "`prompt` must be a non-empty string", fix)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise _bad(
                path, line, f"`max_tokens` must be a positive integer, got {max_tokens!r}", fix
            )
        data.conversations.append(
            Conversation(line=line, exchanges=[Exchange(user=prompt, max_tokens=max_tokens)])
        )
    if not data.conversations:
        raise UserError("dataset has no rows", file=path, fix=fix)
    return data


def read_dataset(path: Path, fmt: str) -> Dataset:
    """Read a dataset of format `sharegpt` or `jsonl`."""
    return read_sharegpt(path) if fmt == "sharegpt" else read_prompts_jsonl(path)
