"""`bench hardware list|show`: the SKU catalog with every figure's source, date and reliability."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bench.hardware.schema import RentTier

app = typer.Typer(help="Hardware profiles: specs, power, prices, acceptance bands (sourced).")

HardwareDir = Annotated[
    Path | None,
    typer.Option("--hardware-dir", help="folder of profile YAMLs (default: the shipped ones)"),
]


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _price(t: RentTier) -> str:
    """A rent tier's price as its source quotes it: $/GPU-h, ¥/GPU-h or ¥/GPU-month."""
    if t.usd_per_gpu_hour is not None:
        return f"${t.usd_per_gpu_hour:.3g}/GPU-h"
    if t.cny_per_gpu_hour is not None:
        return f"¥{t.cny_per_gpu_hour:.2f}/GPU-h"
    return f"¥{t.cny_per_gpu_month:,.0f}/GPU-month"


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
            rent = "no public figure"
        else:
            rent = f"{_price(tier)} ({tier.tier}: {tier.kind}, {tier.date})"
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
    prices = Table(title="Price presets (default rent tier marked *; basis: rent or owned)")
    columns = ("tier", "basis", "kind", "price", "power incl.", "reliability", "date", "source")
    for column in columns:
        prices.add_column(column, overflow="fold")
    for t in p.prices.rent:
        mark = "*" if t.tier == p.prices.default_rent_tier else ""
        source = t.source + (f" — {t.note}" if t.note else "")
        power = "yes" if t.includes_power else "no"
        row = (t.tier + mark, "rent", t.kind, _price(t), power, t.reliability, t.date, source)
        prices.add_row(*row)
    for o in p.prices.owned:
        price = f"${o.usd_per_gpu_hour:.2f}/GPU-h"
        source = o.source + (f" — {o.note}" if o.note else "")
        prices.add_row(o.tier, "owned", o.kind, price, "yes", o.reliability, o.date, source)
    if p.prices.capex_usd_per_gpu is not None:
        c = p.prices.capex_usd_per_gpu
        source = c.source + (f" — {c.note}" if c.note else "")
        capex = f"${c.value:,.0f}/GPU"
        prices.add_row("capex", "owned", c.kind, capex, "—", c.reliability, c.date, source)
    for n in p.prices.no_public_figure:
        where = f"looked for in {n.where}" + (f" — {n.note}" if n.note else "")
        prices.add_row(n.what, "—", "no public figure", "—", "—", "—", n.checked, where)
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
