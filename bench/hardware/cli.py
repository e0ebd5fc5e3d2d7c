"""`bench hardware list|show`: the SKU catalog with every figure's source, date and reliability."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Hardware profiles: specs, power, prices, acceptance bands (sourced).")

HardwareDir = Annotated[
    Path | None,
    typer.Option("--hardware-dir", help="folder of profile YAMLs (default: the shipped ones)"),
]


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


@app.command("list")
def list_command(hardware_dir: HardwareDir = None) -> None:
    """One line per SKU: memory, bandwidth, dense TFLOPS, board power, default rent price."""
    from rich.console import Console
    from rich.table import Table

    from bench.hardware.profiles import list_profiles

    table = Table(title="Hardware profiles (dense TFLOPS; * = some figures unverified)")
    for column in ("SKU", "name", "mem GB", "BW GB/s", "BF16 TF", "FP8 TF", "board W", "rent"):
        table.add_column(column, justify="left" if column in ("SKU", "name", "rent") else "right")
    for p in list_profiles(hardware_dir):
        flag = "*" if any(f.reliability == "unverified" for f in p.figures().values()) else ""
        tier = p.prices.rent_tier(None)
        if tier is None:
            rent = "no sourced price"
        elif tier.usd_per_gpu_hour is not None:
            rent = f"${tier.usd_per_gpu_hour:.3g}/h ({tier.tier})"
        elif tier.cny_per_gpu_hour is not None:
            rent = f"¥{tier.cny_per_gpu_hour:.2f}/h ({tier.tier})"
        else:
            rent = f"¥{tier.cny_per_gpu_month:,.0f}/month ({tier.tier})"
        table.add_row(
            p.sku + flag,
            p.name,
            _num(p.memory_gb.value),
            _num(p.memory_bandwidth_gbps.value),
            _num(p.bf16_dense_tflops.value if p.bf16_dense_tflops else None, 1),
            _num(p.fp8_dense_tflops.value if p.fp8_dense_tflops else None, 1),
            _num(p.board_power_w.value),
            rent,
        )
    Console().print(table)


@app.command("show")
def show_command(
    sku: Annotated[str, typer.Argument(help="SKU name (see `bench hardware list`) or a YAML path")],
    hardware_dir: HardwareDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the profile as JSON")] = False,
) -> None:
    """Every figure of one SKU with its source, date and reliability; prices; acceptance bands."""
    from rich.console import Console
    from rich.table import Table

    from bench.hardware.profiles import load_profile

    p = load_profile(sku, hardware_dir)
    if as_json:
        typer.echo(p.model_dump_json(indent=2, exclude_none=True))
        return
    console = Console()
    console.print(f"[bold]{p.name}[/bold] ({p.sku}, {p.kind}, {p.gpus_per_node} per node)")
    figures = Table(title="Figures")
    for column in ("field", "value", "reliability", "date", "source / note"):
        figures.add_column(column, overflow="fold")
    for path, fig in p.figures().items():
        if path.startswith("prices."):
            continue
        source = fig.source + (f" — {fig.note}" if fig.note else "")
        figures.add_row(path, str(getattr(fig, "value", "")), fig.reliability, fig.date, source)
    console.print(figures)
    prices = Table(title="Price presets (default rent tier marked *)")
    for column in ("tier", "kind", "price", "power incl.", "reliability", "date", "source"):
        prices.add_column(column, overflow="fold")
    for t in p.prices.rent:
        if t.usd_per_gpu_hour is not None:
            price = f"${t.usd_per_gpu_hour:.2f}/GPU-h"
        elif t.cny_per_gpu_hour is not None:
            price = f"¥{t.cny_per_gpu_hour:.2f}/GPU-h"
        else:
            price = f"¥{t.cny_per_gpu_month:,.0f}/GPU-month"
        mark = "*" if t.tier == p.prices.default_rent_tier else ""
        source = t.source + (f" — {t.note}" if t.note else "")
        power = "yes" if t.includes_power else "no"
        prices.add_row(t.tier + mark, "rent", price, power, t.reliability, t.date, source)
    for o in p.prices.owned:
        price = f"${o.usd_per_gpu_hour:.2f}/GPU-h"
        source = o.source + (f" — {o.note}" if o.note else "")
        prices.add_row(o.tier, "owned", price, "yes", o.reliability, o.date, source)
    if p.prices.capex_usd_per_gpu is not None:
        c = p.prices.capex_usd_per_gpu
        source = c.source + (f" — {c.note}" if c.note else "")
        prices.add_row("capex", "owned", f"${c.value:,.0f}/GPU", "—", c.reliability, c.date, source)
    console.print(prices)
    if p.acceptance is not None:
        bands = Table(title="Acceptance reference bands")
        for column in ("check", "value", "basis"):
            bands.add_column(column, overflow="fold")
        for name, band in p.acceptance:
            if band is not None:
                bands.add_row(name, f"{band.value:g}", band.basis)
        console.print(bands)
    for note in p.notes:
        console.print(f"note: {note}")
