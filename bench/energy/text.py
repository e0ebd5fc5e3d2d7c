"""Plain-text and Markdown views of an `EnergySummary` (for the terminal and summary.md)."""

from __future__ import annotations

from bench.energy.records import EnergySummary
from bench.records import DisplayCurrency


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def energy_markdown(summary: EnergySummary, display: DisplayCurrency | None = None) -> str:
    """A `## Energy` section: headline, per-device and per-scope tables, notes and skipped meters.

    Invalid figures show "—" and their reason; nothing unmeasured is shown as a number.
    Energy cost (stored in USD) is shown in `display`'s currency (USD when None).
    """
    show = display or DisplayCurrency()
    lines = ["## Energy", "", summary.headline(), ""]
    if summary.measured:
        lines += [
            "| channel | source | method | energy J | avg W | peak W | idle W | above idle J "
            "| counter vs samples % | valid |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for d in summary.devices:
            valid = "yes" if d.valid else f"no: {d.problem}"
            lines.append(
                f"| {d.channel} | {d.source} | {d.method or '—'} | {_num(d.energy_j)} "
                f"| {_num(d.avg_power_w)} | {_num(d.peak_power_w)} | {_num(d.idle_power_w)} "
                f"| {_num(d.energy_above_idle_j)} | {_num(d.counter_vs_samples_pct, '+.2f')} "
                f"| {valid} |"
            )
        lines += [
            "",
            "| scope | energy J | avg W | peak W | J/output token | J/total token "
            f"| output tokens/kWh | energy cost {show.currency} | valid |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for t in summary.totals:
            valid = "yes" if t.valid else f"no: {t.problem}"
            lines.append(
                f"| {t.scope} | {_num(t.energy_j)} | {_num(t.avg_power_w)} "
                f"| {_num(t.peak_power_w)} | {_num(t.j_per_output_token, '.4g')} "
                f"| {_num(t.j_per_total_token, '.4g')} | {_num(t.output_tokens_per_kwh, '.4g')} "
                f"| {_num(show.amount(t.energy_cost_usd), '.4g')} | {valid} |"
            )
        for d in summary.devices:
            state = d.gpu_state
            if state and state.samples:
                clock = _num(state.sm_clock_mhz_mean, ".0f")
                clock_min = _num(state.sm_clock_mhz_min, ".0f")
                temp = _num(state.temperature_c_max, ".0f")
                reasons = ", ".join(state.throttle_reasons) or "none"
                lines.append(
                    f"\n{d.channel}: power limit {_num(state.power_limit_w)} W, SM clock mean "
                    f"{clock} MHz (min {clock_min}), max {temp} °C, "
                    f"clock-event reasons: {reasons}"
                )
    if summary.selection is not None:
        sel = summary.selection
        lines.append(
            f"\nGPUs measured: {sel.gpu_indices} {sel.gpu_names} (CUDA_VISIBLE_DEVICES="
            f"{sel.cuda_visible_devices!r}, parallel size {sel.parallel_size})"
            + (f" — {sel.note}" if sel.note else "")
        )
    lines += [f"\n- note: {n}" for n in summary.notes]
    if summary.measured:
        lines += [f"- skipped {k}: {v}" for k, v in summary.skipped.items()]
    return "\n".join(lines).rstrip() + "\n"
