"""`bench workloads`: list and show the suite, preview built requests, check token counts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="The standard workload suite: list, show, preview, check.", no_args_is_help=True
)

SuiteFile = Annotated[
    Path | None, typer.Option("--file", help="user suite YAML overriding the packaged one")
]


def _tokenizer(model: str):  # type: ignore[no-untyped-def]
    """A tokenizer from a local model directory or a catalog model id."""
    from transformers import AutoTokenizer

    path = Path(model)
    if not path.is_dir():
        from bench.catalog import load_catalog
        from bench.models.resolve import resolve_model

        catalog, _ = load_catalog()
        path = Path(resolve_model(catalog.get(model)))
    return AutoTokenizer.from_pretrained(str(path))


@app.command("list")
def list_workloads(file: SuiteFile = None) -> None:
    """Named workloads: kind and scenario."""
    from bench.workloads.suite import load_suite

    for name, spec in load_suite(file).items():
        typer.echo(f"{name:<14} {spec.kind:<9} {spec.description}")


@app.command("show")
def show(
    name: str,
    file: SuiteFile = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="context of the model: prints the scale that fits")
    ] = None,
) -> None:
    """One workload's full definition (YAML), its longest request and the scale that fits."""
    import yaml

    from bench.workloads.build import auto_scale, max_request_tokens
    from bench.workloads.suite import get_workload

    spec = get_workload(name, file)
    typer.echo(yaml.safe_dump({name: spec.model_dump(mode="json")}, sort_keys=False).rstrip())
    longest = max_request_tokens(spec)
    typer.echo(f"# longest request (text + output tokens): {longest or 'unknown'}")
    if max_model_len:
        typer.echo(
            f"# --scale that fits max_model_len {max_model_len}: {auto_scale(spec, max_model_len)}"
        )


@app.command("preview")
def preview(
    name: str,
    model: Annotated[str, typer.Option(help="model id from models.yaml or a local model dir")],
    file: SuiteFile = None,
    num_requests: Annotated[int, typer.Option("--num-requests", "-n")] = 5,
    scale: Annotated[float, typer.Option(help="multiply token lengths, (0, 1]")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="override the workload seed")] = None,
    jsonl: Annotated[Path | None, typer.Option(help="also write the specs as JSONL")] = None,
) -> None:
    """Build requests with the model's tokenizer; print requested vs actual lengths."""
    from bench.workloads.build import build_requests, workload_info
    from bench.workloads.suite import get_workload

    spec = get_workload(name, file)
    specs = build_requests(
        spec, _tokenizer(model), num_requests=num_requests, seed=seed, scale=scale
    )
    typer.echo("request        session turn  req_in  text_in  out  images video_s")
    for s in specs:
        typer.echo(
            f"{s.request_id:<14} {s.session_id or '-':<7} {s.turn or '-':>4} "
            f"{s.requested_input_tokens if s.requested_input_tokens is not None else '-':>7} "
            f"{s.text_input_tokens:>8} {s.requested_output_tokens:>4} {s.images:>6} "
            f"{s.video_s:>7g}"
        )
    info = workload_info(name, spec, specs, seed=seed, scale=scale)
    typer.echo(
        f"exact text lengths: {info.text_requests_exact}/{info.text_requests_checked}, "
        f"max error {info.max_abs_length_error_tokens} tokens"
    )
    if jsonl:
        with jsonl.open("w", encoding="utf-8") as fh:
            for s in specs:
                fh.write(s.model_dump_json() + "\n")
        typer.echo(f"wrote {len(specs)} specs to {jsonl}")


@app.command("check")
def check(
    name: str,
    url: Annotated[str, typer.Option(help="server base URL, e.g. http://127.0.0.1:8000")],
    model: Annotated[str, typer.Option(help="model id from models.yaml or a local model dir")],
    served_model: Annotated[str | None, typer.Option(help="name the server serves")] = None,
    file: SuiteFile = None,
    num_requests: Annotated[int, typer.Option("--num-requests", "-n")] = 5,
    scale: Annotated[float, typer.Option(help="multiply token lengths, (0, 1]")] = 1.0,
) -> None:
    """Compare our token counts with the server's `POST /tokenize` (text-only prompts)."""
    from bench.errors import UserError
    from bench.workloads.build import build_requests
    from bench.workloads.suite import get_workload
    from bench.workloads.verify import verify_with_server

    spec = get_workload(name, file)
    specs = build_requests(spec, _tokenizer(model), num_requests=num_requests, scale=scale)
    result = verify_with_server(specs, url, served_model or model)
    if result is None:
        raise UserError(
            "the server has no /tokenize endpoint", file=url, fix="check against a vLLM server"
        )
    for line in result.rows:
        typer.echo(
            f"{line.request_id:<14} ours {line.client_tokens:>7} "
            f"server {line.server_tokens:>7} diff {line.difference:+d}"
        )
    typer.echo(
        f"{result.agree}/{len(result.rows)} agree exactly, "
        f"{result.within_one}/{len(result.rows)} within ±1"
    )
    if result.within_one < len(result.rows):
        raise typer.Exit(1)
