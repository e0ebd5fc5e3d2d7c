"""Strict YAML loading and pydantic validation that turn mistakes into `UserError`s.

Every config file goes through `load_model`: safe YAML loader only, then the pydantic model
with `extra="forbid"`; the first error names the file, the dotted field and a fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import UserError

M = TypeVar("M", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base for everything a person writes: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with the safe loader.

    Raises:
        UserError: the file is missing, unreadable or not valid YAML.
    """
    if not path.is_file():
        raise UserError("file not found", file=path, fix="check the path")
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UserError(
            f"malformed YAML{where}: {getattr(exc, 'problem', exc)}",
            file=path,
            fix="fix the YAML syntax at that position",
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", file=path) from None


def validation_to_user_error(exc: ValidationError, source: str | Path) -> UserError:
    """Turn the first pydantic error into a `UserError` naming file, field and fix."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        return UserError(
            "unknown field",
            file=source,
            field=field,
            fix="remove it or correct its spelling (unknown fields are not allowed)",
        )
    if kind == "missing":
        return UserError("required field is missing", file=source, field=field, fix="add it")
    message = first["msg"]
    extra = len(exc.errors()) - 1
    if extra:
        message += f" (and {extra} more error{'s' if extra > 1 else ''})"
    return UserError(
        message,
        file=source,
        field=field,
        fix=f"got {first.get('input')!r}; give a valid value",
    )


def validate_data(model: type[M], data: Any, source: str | Path) -> M:
    """Validate already-parsed data against `model`, raising `UserError` on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_user_error(exc, source) from None


def load_model(model: type[M], path: Path) -> M:
    """Read `path` as YAML and validate it as `model`."""
    return validate_data(model, read_yaml(path), path)
