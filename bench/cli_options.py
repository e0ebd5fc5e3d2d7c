"""Command-line options that several commands share, declared once, and renamed options.

`with_options(block, into=..., build=...)` gives a typer command every option of `block`
(name → `Opt`) and hands the command one value instead, `build(values)` (the cost
assumptions of `bench quote`, `compare` and `run`; the base run of `bench sweep run` and
`search`). `renamed({"old": "new"})` keeps an option's old name working, hidden from
`--help`, for one release: a note on stderr says the new name.

Module-level imports stay light (typer, stdlib): every command line imports this module.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast, get_args, get_origin

import typer

from bench.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])
_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Opt:
    """One option of a block: its `Annotated[type, typer.Option(...)]` and its default
    (`_EMPTY`: required)."""

    annotation: Any
    default: Any = _EMPTY


def with_options(
    block: Mapping[str, Opt], *, into: str, build: Callable[[dict[str, Any]], Any]
) -> Callable[[F], F]:
    """Decorator: the command takes the options of `block` (after its own) and receives
    `build({name: value})` as its parameter `into`.

    Raises:
        TypeError: (at import) the command lacks `into` or already has an option of `block`.
    """

    def decorate(command: F) -> F:
        own = _evaluated_parameters(command, skip=into)
        clash = set(own) & set(block)
        if clash or into not in inspect.signature(command).parameters:
            raise TypeError(f"{command.__name__}: needs parameter {into!r}, no {sorted(clash)}")
        added = {
            name: inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=opt.default, annotation=opt.annotation
            )
            for name, opt in block.items()
        }

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in block}
            return command(*args, **kwargs, **{into: build(values)})

        return cast(F, _with_parameters(wrapper, {**own, **added}))

    return decorate


def renamed(old_to_new: Mapping[str, str]) -> Callable[[F], F]:
    """Decorator: each old option name (a parameter name, e.g. "duration") still works,
    hidden, and feeds the new one ("duration_s"); `--OLD` prints where the option went.

    Given with the new name set to something other than its default, the old name is a
    `UserError` naming both (exit 2).
    """

    def decorate(command: F) -> F:
        own = _evaluated_parameters(command)
        added = {}
        for old, new in old_to_new.items():
            base, _ = _split(own[new].annotation)
            added[old] = inspect.Parameter(
                old,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[base | None, typer.Option(hidden=True)],
            )

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                value = kwargs.pop(old)
                if value is None:
                    continue
                old_flag, new_flag = _flag(old), _flag(new)
                if kwargs.get(new) != own[new].default:
                    raise UserError(
                        f"{old_flag} is the old name of {new_flag}: give one of them",
                        field=new_flag,
                        fix=f"drop {old_flag}",
                    )
                typer.secho(f"note: {old_flag} is now {new_flag}", err=True)
                kwargs[new] = value
            return command(*args, **kwargs)

        return cast(F, _with_parameters(wrapper, {**own, **added}))

    return decorate


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _split(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(type, metadata) of `Annotated[type, *metadata]`; (annotation, ()) otherwise."""
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        return base, tuple(meta)
    return annotation, ()


def _evaluated_parameters(command: Callable[..., Any], skip: str | None = None) -> dict[str, Any]:
    """The command's parameters with string annotations (`from __future__ import
    annotations`) evaluated in its module, except `skip` (the parameter a decorator fills
    in, whose type may be imported only for type checking)."""
    namespace = getattr(command, "__globals__", {})
    out = {}
    for param in inspect.signature(command).parameters.values():
        if param.name == skip:
            continue
        annotation = param.annotation
        if isinstance(annotation, str):
            annotation = eval(annotation, namespace)  # noqa: S307 - the module's own source
        out[param.name] = param.replace(annotation=annotation)
    return out


def _with_parameters(
    wrapper: Callable[..., Any], params: Mapping[str, inspect.Parameter]
) -> Callable[..., Any]:
    """Give `wrapper` the signature typer reads: positional parameters first, then the
    keyword-only ones in the given order."""
    ordered = sorted(params.values(), key=lambda p: p.kind == inspect.Parameter.KEYWORD_ONLY)
    wrapper.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in ordered}
    return wrapper
