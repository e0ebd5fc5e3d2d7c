"""`bench quote` and `bench compare`: price sheets and SKU tables from stored runs, and the
cost options every pricing command takes (`with_cost_options`: quote, compare, run).

Register at the top level (the commands are `bench quote`, `bench compare`):
`app.add_typer(bench.cost.cli.app)` with no name. Module imports stay light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from bench.cli_options import Opt, with_options

if TYPE_CHECKING:
    from bench.cost.assumptions import CostAssumptions

app = typer.Typer(help="Cost per token: quotes and SKU comparisons from stored runs.")

Runs = Annotated[list[Path], typer.Argument(help="run directories (or folders of them)")]
Tiers = Annotated[
    Path | None, typer.Option(help="SLO tiers YAML (default: interactive, standard, batch)")
]


def _cost(kind: Any, help: str, *names: str) -> Opt:
    """A cost option (optional, no default: unset keeps the YAML's or the built-in value)."""
    return Opt(
        Annotated[kind | None, typer.Option(*names, help=help, rich_help_panel="Cost")], None
    )


# CostAssumptions field → option; --cost-file is the YAML the others override
COST_OPTIONS: dict[str, Opt] = {
    "cost_file": _cost(Path, "cost assumptions YAML"),
    "currency": _cost(str, "USD or CNY"),
    "fx_cny_per_usd": _cost(float, "CNY per 1 USD (required for CNY)"),
    "basis": _cost(str, "rent or owned"),
    "price_tier": _cost(
        str,
        "price kind (on-demand, marketplace, spot, 1-year, 3-year, 5-year; owned: "
        "owned-modelled, capex-all-in, capex-street, capex-launch-list) or a tier name",
    ),
    "rent_price_per_gpu_hour": _cost(float, "your contract price per GPU-hour"),
    "rent_includes_power": _cost(
        bool, "does the rent pay power", "--rent-includes-power/--rent-excludes-power"
    ),
    "utilization": _cost(float, "busy hours / billed hours, in (0, 1]"),
    "pue": _cost(float, "power usage effectiveness, ≥ 1"),
    "electricity_price_per_kwh": _cost(float, "electricity price per kWh"),
    "node_overhead_factor": _cost(float, "server power per GPU ÷ board power"),
    "margin": _cost(float, "markup on cost, 0.3 = 30 %"),
    "capex_per_gpu": _cost(float, "all-in capex per GPU (owned basis)"),
    "life_years": _cost(float, "economic life in years (owned basis)"),
    "cost_of_capital": _cost(float, "cost of capital per year, 0.1 = 10 %"),
    "hosting_per_kw_month": _cost(float, "colocation price per kW-month"),
    "opex_share": _cost(float, "opex per year as a share of capex"),
}


def cost_assumptions(options: dict[str, Any]) -> CostAssumptions:
    """The assumptions of `--cost-file` (else the built-in ones) with every cost option
    given on the command line over them.

    Raises:
        UserError: the file or an option is invalid (the option named as the field).
    """
    from bench.cost.assumptions import load_assumptions, with_overrides

    cost_file = options.pop("cost_file")
    return with_overrides(
        load_assumptions(cost_file),
        options,
        source=str(cost_file) if cost_file else "command line",
    )


with_cost_options = with_options(COST_OPTIONS, into="assumptions", build=cost_assumptions)

Fmt = Annotated[
    Literal["table", "md", "csv", "xlsx", "json"],
    typer.Option("--format", help="table (fits the terminal), md, csv, xlsx, or json (the record)"),
]
Wide = Annotated[bool, typer.Option("--wide", help="every column of the terminal table")]
Output = Annotated[Path | None, typer.Option(help="write here (required for xlsx)")]
AsJson = Annotated[bool, typer.Option("--json", help="print the record as JSON instead")]


def _require_format(fmt: str) -> None:
    """XLSX needs openpyxl (the `reports` extra): checked before any work."""
    if fmt == "xlsx":
        from bench.extras import require

        require("openpyxl", "--format xlsx")


def _emit(
    sheets: Any, fmt: str, output: Path | None, record: Any, as_json: bool, wide: bool = False
) -> None:
    from bench.cost.render import render

    if as_json or fmt == "json":
        text = record.model_dump_json(indent=2)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
        return
    text = render(sheets, fmt, output, wide)  # type: ignore[arg-type]
    if text is not None:
        typer.echo(text)
    elif output is not None:
        typer.echo(f"wrote {output}", err=True)


@app.command()
@with_cost_options
def quote(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(help="run directories of one workload at several loads (or folders)"),
    ] = None,
    probe: Annotated[
        list[Path] | None,
        typer.Option(help="probe runs (prefill-heavy, decode-heavy, cached; repeated) or folders"),
    ] = None,
    holdout: Annotated[
        list[Path] | None, typer.Option(help="held-out runs checked against the prices (repeat)")
    ] = None,
    probe_repeats: Annotated[
        int, typer.Option(min=1, help="runs each probe workload needs (1: no interval)")
    ] = 3,
    plan: Annotated[
        bool, typer.Option(help="print the probe, held-out and sweep runs to make, and stop")
    ] = False,
    model: Annotated[str | None, typer.Option(help="model id for --plan")] = None,
    plan_dir: Annotated[str, typer.Option(help="where --plan puts the runs")] = "reports/quote",
    hardware: Annotated[
        str | None, typer.Option(help="profile SKU or YAML (default: the runs')")
    ] = None,
    tiers: Tiers = None,
    market: Annotated[
        str | None, typer.Option(help="market price provider of the model (market_prices.yaml)")
    ] = None,
    market_prices: Annotated[
        Path | None, typer.Option(help="your market prices YAML (same schema as the presets)")
    ] = None,
    market_price_in: Annotated[
        float | None, typer.Option(help="market price per M input tokens (report currency)")
    ] = None,
    market_price_out: Annotated[
        float | None, typer.Option(help="market price per M output tokens (report currency)")
    ] = None,
    market_price_cached: Annotated[
        float | None, typer.Option(help="market price per M cached input (report currency)")
    ] = None,
    revenue_share: Annotated[
        float | None, typer.Option(help="lessor's share of token revenue, in (0, 1]")
    ] = None,
    fmt: Fmt = "table",
    wide: Wide = False,
    output: Output = None,
    as_json: AsJson = False,
    *,
    assumptions: CostAssumptions,
) -> None:
    """Price sheet for one model × SKU × workload at SLO tiers: $/M input, output, cached with
    their interval from repeated probes; margin; the lessor's view per server-month; scenario
    prices. RUNS are one workload at several loads (a sweep). --plan prints the runs to make."""
    from bench.cost.quote import make_quote
    from bench.cost.runs import load_runs
    from bench.cost.sheets import quote_sheets
    from bench.cost.tiers import load_tiers
    from bench.hardware.profiles import load_profile

    _require_format(fmt)
    if plan:
        _plan(model, hardware, probe_repeats, plan_dir, fmt, output, as_json)
        return
    if not runs:
        from bench.errors import UserError

        raise UserError("no runs given", field="RUNS", fix="give run directories, or --plan")
    a = assumptions
    stored = load_runs(runs)
    q = make_quote(
        stored,
        load_profile(hardware or stored[0].sku),
        a,
        tiers=load_tiers(tiers),
        probes=load_runs(probe) if probe else (),
        holdouts=load_runs(holdout) if holdout else (),
        market=_market(
            stored[0].model,
            a,
            market,
            market_prices,
            {
                "market_price_in": market_price_in,
                "market_price_out": market_price_out,
                "market_price_cached": market_price_cached,
            },
        ),
        share=_share(revenue_share),
        probe_repeats=probe_repeats,
    )
    sheets = quote_sheets(q)
    if fmt == "xlsx" and not as_json and output is not None:
        from bench.cost.xlsx import write_quote_xlsx

        write_quote_xlsx(q, sheets, output)
        typer.echo(f"wrote {output}", err=True)
        return
    _emit(sheets, fmt, output, q, as_json, wide)


def _share(value: float | None) -> float | None:
    from bench.errors import UserError

    if value is not None and not 0 < value <= 1:
        raise UserError(
            f"revenue share {value} is not in (0, 1]",
            field="--revenue-share",
            fix="give the lessor's share as a fraction, e.g. 0.3",
        )
    return value


def _market(
    model: str,
    a: Any,
    provider: str | None,
    prices_file: Path | None,
    given: dict[str, float | None],
) -> Any:
    """Market prices: the command line's (report currency), else the model's preset."""
    from bench.cost.market import (
        given_price,
        load_market_presets,
        packaged_market_file,
        preset_price,
    )
    from bench.errors import UserError

    if any(v is not None for v in given.values()):
        bad = [k for k, v in given.items() if v is not None and v < 0]
        if given["market_price_in"] is None or given["market_price_out"] is None or bad:
            raise UserError(
                "market prices need an input and an output price, each ≥ 0",
                field="--" + (bad[0] if bad else "market_price_in").replace("_", "-"),
                fix="give --market-price-in and --market-price-out (report currency per M)",
            )
        cached = given["market_price_cached"]
        return given_price(
            a.to_usd(given["market_price_in"]),
            a.to_usd(given["market_price_out"]),
            None if cached is None else a.to_usd(cached),
        )
    presets = load_market_presets(prices_file)
    return preset_price(
        model,
        presets,
        provider=provider,
        fx_cny_per_usd=a.fx_cny_per_usd,
        source=prices_file or packaged_market_file(),
    )


def _plan(
    model: str | None,
    hardware: str | None,
    repeats: int,
    plan_dir: str,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    from bench.catalog import load_catalog
    from bench.cost.plan import quote_plan
    from bench.cost.render import Sheet
    from bench.errors import UserError
    from bench.hardware.profiles import load_profile

    if model is None or hardware is None:
        raise UserError(
            "--plan needs the model and the SKU",
            field="--model" if model is None else "--hardware",
            fix="bench quote --plan --model MODEL --hardware SKU",
        )
    catalog, path = load_catalog()
    p = quote_plan(catalog.get(model, path), load_profile(hardware), repeats=repeats,
                   out_dir=plan_dir)  # fmt: skip
    sheet = Sheet(
        name="Plan",
        title=f"Runs to make for a quote of {p.model} on {p.hardware_sku}",
        columns=[
            "role",
            "input tokens",
            "output tokens",
            "range ratio",
            "loads",
            "repeats",
            "seconds each",
            "command",
        ],  # fmt: skip
        rows=[
            [
                r.role,
                r.input_tokens,
                r.output_tokens,
                r.range_ratio,
                r.loads,
                r.repeats,
                r.duration_s,
                r.command,
            ]  # fmt: skip
            for r in p.runs
        ],
        notes=[*p.notes, f"then: {p.quote_command}"],
    )
    _emit([sheet], fmt, output, p, as_json)


@app.command()
@with_cost_options
def compare(
    runs: Runs,
    project: Annotated[
        list[str] | None,
        typer.Option(help="SKU (or profile YAML) without runs to project (labelled projected)"),
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option(
            help="SKU=VALUE: that SKU's rent per GPU-hour (owned basis: all-in capex per GPU), "
            "report currency (repeat)"
        ),
    ] = None,
    allow_mixed_basis: Annotated[
        bool, typer.Option(help="rank SKUs priced by different kinds of price (labelled)")
    ] = False,
    cross_vendor: Annotated[
        bool, typer.Option(help="allow projecting a SKU from another vendor's runs (labelled)")
    ] = False,
    tiers: Tiers = None,
    fmt: Fmt = "table",
    wide: Wide = False,
    output: Output = None,
    as_json: AsJson = False,
    *,
    assumptions: CostAssumptions,
) -> None:
    """Procurement table of several SKUs for one model at matched SLO tiers: tok/s/GPU, $/M on
    rent and owned basis, tokens/kWh, tokens per capex; ranked, with a verdict per tier."""
    from bench.cost.compare import make_comparison
    from bench.cost.runs import load_runs
    from bench.cost.sheets import compare_sheets
    from bench.cost.tiers import load_tiers

    _require_format(fmt)
    a = assumptions
    given = _sku_prices(price or [])
    c = make_comparison(
        load_runs(runs),
        a,
        tiers=load_tiers(tiers),
        project=project or [],
        prices=given,
        allow_mixed_basis=allow_mixed_basis,
        cross_vendor=cross_vendor,
    )
    _emit(compare_sheets(c), fmt, output, c, as_json, wide)


def _sku_prices(items: list[str]) -> dict[str, float]:
    """`--price SKU=VALUE` options as {SKU: value}.

    Raises:
        UserError: not SKU=VALUE, a value that is not a positive number, a SKU given twice.
    """
    from bench.errors import UserError

    out: dict[str, float] = {}
    for item in items:
        sku, eq, text = item.partition("=")
        try:
            value = float(text) if eq and sku else None
        except ValueError:
            value = None
        if value is None or not value > 0 or sku in out:
            raise UserError(
                f"cannot read --price {item!r}",
                field="--price",
                fix="write SKU=VALUE once per SKU with VALUE > 0, e.g. --price h20=2.1",
            )
        out[sku] = value
    return out
