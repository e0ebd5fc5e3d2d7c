"""`bench quote` and `bench compare`: price sheets and SKU tables from stored runs.

Register at the top level (the commands are `bench quote`, `bench compare`):
`app.add_typer(bench.cost.cli.app)` with no name. Module imports stay light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

app = typer.Typer(help="Cost per token: quotes and SKU comparisons from stored runs.")

Runs = Annotated[list[Path], typer.Argument(help="run directories (or folders of them)")]
CostFile = Annotated[Path | None, typer.Option(help="cost assumptions YAML")]
Tiers = Annotated[
    Path | None, typer.Option(help="SLO tiers YAML (default: interactive, standard, batch)")
]
Currency = Annotated[str | None, typer.Option(help="USD or CNY")]
Fx = Annotated[float | None, typer.Option(help="CNY per 1 USD (required for CNY)")]
Basis = Annotated[str | None, typer.Option(help="rent or owned")]
PriceTier = Annotated[str | None, typer.Option(help="rent tier (or owned tier) of the profile")]
RentPrice = Annotated[float | None, typer.Option(help="your contract price per GPU-hour")]
RentPower = Annotated[
    bool | None,
    typer.Option("--rent-includes-power/--rent-excludes-power", help="does the rent pay power"),
]
Util = Annotated[float | None, typer.Option(help="busy hours / billed hours, in (0, 1]")]
Pue = Annotated[float | None, typer.Option(help="power usage effectiveness, ≥ 1")]
Elec = Annotated[float | None, typer.Option(help="electricity price per kWh")]
Overhead = Annotated[float | None, typer.Option(help="server power per GPU ÷ board power")]
Margin = Annotated[float | None, typer.Option(help="markup on cost, 0.3 = 30 %")]
Capex = Annotated[float | None, typer.Option(help="all-in capex per GPU (owned basis)")]
Life = Annotated[float | None, typer.Option(help="economic life in years (owned basis)")]
Rate = Annotated[float | None, typer.Option(help="cost of capital per year, 0.1 = 10 %")]
Hosting = Annotated[float | None, typer.Option(help="colocation price per kW-month")]
Opex = Annotated[float | None, typer.Option(help="opex per year as a share of capex")]
Fmt = Annotated[
    Literal["table", "md", "csv", "xlsx"], typer.Option("--format", help="output format")
]
Output = Annotated[Path | None, typer.Option(help="write here (required for xlsx)")]
AsJson = Annotated[bool, typer.Option("--json", help="print the record as JSON instead")]

_OVERRIDES = (
    "currency",
    "fx_cny_per_usd",
    "basis",
    "price_tier",
    "rent_price_per_gpu_hour",
    "rent_includes_power",
    "utilization",
    "pue",
    "electricity_price_per_kwh",
    "node_overhead_factor",
    "margin",
    "capex_per_gpu",
    "life_years",
    "cost_of_capital",
    "hosting_per_kw_month",
    "opex_share",
)


def _assumptions(cost_file: Path | None, options: dict[str, Any]) -> Any:
    from bench.cost.assumptions import load_assumptions, with_overrides

    overrides = {k: options[k] for k in _OVERRIDES}
    return with_overrides(load_assumptions(cost_file), overrides)


def _require_format(fmt: str) -> None:
    """XLSX needs openpyxl (the `reports` extra): checked before any work."""
    if fmt == "xlsx":
        from bench.extras import require

        require("openpyxl", "--format xlsx")


def _emit(sheets: Any, fmt: str, output: Path | None, record: Any, as_json: bool) -> None:
    from bench.cost.render import render

    if as_json:
        text = record.model_dump_json(indent=2)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
        return
    text = render(sheets, fmt, output)  # type: ignore[arg-type]
    if text is not None:
        typer.echo(text)
    elif output is not None:
        typer.echo(f"wrote {output}", err=True)


@app.command()
def quote(
    runs: Runs,
    probe: Annotated[
        list[Path] | None,
        typer.Option(help="probe run (prefill-heavy, decode-heavy, cached) for the additive fit"),
    ] = None,
    holdout: Annotated[
        Path | None, typer.Option(help="mixed run held out to check the fit")
    ] = None,
    hardware: Annotated[
        str | None, typer.Option(help="profile SKU or YAML (default: the runs')")
    ] = None,
    tiers: Tiers = None,
    market_price_in: Annotated[
        float | None, typer.Option(help="market price per M input tokens")
    ] = None,
    market_price_out: Annotated[
        float | None, typer.Option(help="market price per M output tokens")
    ] = None,
    market_price_cached: Annotated[
        float | None, typer.Option(help="market price per M cached input")
    ] = None,
    revenue_share: Annotated[
        float | None, typer.Option(help="lessor's share of token revenue")
    ] = None,
    cost_file: CostFile = None,
    currency: Currency = None,
    fx_cny_per_usd: Fx = None,
    basis: Basis = None,
    price_tier: PriceTier = None,
    rent_price_per_gpu_hour: RentPrice = None,
    rent_includes_power: RentPower = None,
    utilization: Util = None,
    pue: Pue = None,
    electricity_price_per_kwh: Elec = None,
    node_overhead_factor: Overhead = None,
    margin: Margin = None,
    capex_per_gpu: Capex = None,
    life_years: Life = None,
    cost_of_capital: Rate = None,
    hosting_per_kw_month: Hosting = None,
    opex_share: Opex = None,
    fmt: Fmt = "table",
    output: Output = None,
    as_json: AsJson = False,
) -> None:
    """Price sheet for one model × SKU at SLO tiers: $/M input, output, cached; margin; rent vs
    token revenue share. RUNS are one workload at several loads (a sweep)."""
    from bench.config.loading import validate_data
    from bench.cost.quote import MarketPrices, make_quote
    from bench.cost.render import quote_sheets
    from bench.cost.runs import load_runs
    from bench.cost.tiers import load_tiers
    from bench.hardware.profiles import load_profile

    _require_format(fmt)
    a = _assumptions(cost_file, locals())
    stored = load_runs(runs)
    market = None
    if market_price_in is not None or market_price_out is not None or revenue_share is not None:
        market = validate_data(
            MarketPrices,
            {
                "per_m_input": market_price_in,
                "per_m_output": market_price_out,
                "per_m_cached_input": market_price_cached,
                "share": revenue_share,
            },
            "command line",
        )
    q = make_quote(
        stored,
        load_profile(hardware or stored[0].sku),
        a,
        tiers=load_tiers(tiers),
        probes=load_runs(probe) if probe else (),
        holdout=load_runs([holdout])[0] if holdout else None,
        market=market,
    )
    _emit(quote_sheets(q), fmt, output, q, as_json)


@app.command()
def compare(
    runs: Runs,
    project: Annotated[
        list[str] | None,
        typer.Option(help="SKU without runs to project from specs (labelled projected)"),
    ] = None,
    tiers: Tiers = None,
    cost_file: CostFile = None,
    currency: Currency = None,
    fx_cny_per_usd: Fx = None,
    basis: Basis = None,
    price_tier: PriceTier = None,
    rent_price_per_gpu_hour: RentPrice = None,
    rent_includes_power: RentPower = None,
    utilization: Util = None,
    pue: Pue = None,
    electricity_price_per_kwh: Elec = None,
    node_overhead_factor: Overhead = None,
    margin: Margin = None,
    capex_per_gpu: Capex = None,
    life_years: Life = None,
    cost_of_capital: Rate = None,
    hosting_per_kw_month: Hosting = None,
    opex_share: Opex = None,
    fmt: Fmt = "table",
    output: Output = None,
    as_json: AsJson = False,
) -> None:
    """Procurement table of several SKUs for one model at matched SLO tiers: tok/s/GPU, $/M on
    rent and owned basis, tokens/kWh, tokens per capex; ranked, with a verdict per tier."""
    from bench.cost.compare import make_comparison
    from bench.cost.render import compare_sheets
    from bench.cost.runs import load_runs
    from bench.cost.tiers import load_tiers

    _require_format(fmt)
    a = _assumptions(cost_file, locals())
    c = make_comparison(load_runs(runs), a, tiers=load_tiers(tiers), project=project or [])
    _emit(compare_sheets(c), fmt, output, c, as_json)
