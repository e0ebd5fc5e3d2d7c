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
    """Base for everything a person writes: unknown fields are errors, and so are NaN and
    infinite numbers (`.inf` prices, powers and SLOs, `--duration-s inf`): none is a value a
    run can use, and none may reach a report."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_FILE_BYTES = 64 * 2**20  # a config, workload suite or report larger than this is a mistake
MAX_YAML_NODES = 1_000_000  # values in a YAML document once its aliases are expanded
MAX_NESTING = 100  # levels of lists and mappings inside one another


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a file a person gave.

    Raises:
        UserError: missing, unreadable, larger than `max_bytes`, or not UTF-8 text
            (naming the first bad byte and where it is).
    """
    if not path.is_file():
        raise UserError("file not found", file=path, fix="check the path")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UserError(
                f"file is {size:,} bytes, more than the {max_bytes:,} this reader takes",
                file=path,
                fix="check that this is the file you meant",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", file=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} "
            f"(offset {exc.start})",
            file=path,
            fix="save the file as UTF-8",
        ) from None


def _expanded_size(node: yaml.Node, path: Path) -> None:
    """Refuse a YAML graph too large once its aliases are expanded, too deep, or cyclic.

    Raises:
        UserError: more than MAX_YAML_NODES values, more than MAX_NESTING levels, or an
            alias that contains itself.
    """
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels below)
    on_path: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in on_path:
            raise UserError("an alias refers to a value that contains it", file=path,
                            fix="remove the self-reference")  # fmt: skip
        if len(on_path) > MAX_NESTING:
            raise UserError(f"nested more than {MAX_NESTING} levels deep", file=path,
                            fix="flatten the structure")  # fmt: skip
        on_path.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        values, levels = 1, 0
        for child in children:
            child_values, child_levels = measure(child)
            values += child_values
            levels = max(levels, child_levels + 1)
            if values > MAX_YAML_NODES:
                raise UserError(
                    f"more than {MAX_YAML_NODES:,} values once its aliases are expanded "
                    "(an alias bomb?)",
                    file=path,
                    fix="write the values out, or use fewer nested aliases",
                )
        on_path.discard(key)
        memo[key] = (values, levels)
        return memo[key]

    measure(node)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with the safe loader, within limits: UTF-8 text of at most
    MAX_FILE_BYTES, at most MAX_YAML_NODES values with aliases expanded, MAX_NESTING levels.

    Raises:
        UserError: the file is missing, unreadable, not UTF-8, not valid YAML, or over a
            limit (the error names which).
    """
    text = read_text(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UserError(
            f"malformed YAML{where}: {getattr(exc, 'problem', exc)}",
            file=path,
            fix="fix the YAML syntax at that position",
        ) from None
    except RecursionError:
        raise UserError(f"nested more than {MAX_NESTING} levels deep", file=path,
                        fix="flatten the structure") from None  # fmt: skip
    finally:
        loader.dispose()


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
