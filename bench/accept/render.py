"""verdict.md: the acceptance verdict as a person reads it (rendered only from `Verdict`)."""

from __future__ import annotations

from bench.accept.checklib import fmt
from bench.accept.micro_records import MicroReport
from bench.accept.probe import NodeProbe
from bench.accept.records import Check, Verdict

_STATUS = {
    "pass": "PASS",
    "fail": "**FAIL**",
    "error": "**ERROR**",
    "warn": "warn",
    "not_applicable": "n/a",
}
_SCALE = {"flop_per_s": (1e12, "TFLOP/s"), "byte_per_s": (1e9, "GB/s")}


def render_markdown(v: Verdict) -> str:
    lines = [
        f"# Acceptance verdict: {v.overall.upper()}",
        "",
        f"- SKU: `{v.sku}` — bands from {v.bands.source}",
        f"- host: {_cell(v.host)}; started {v.created_utc}, finished {v.finished_utc}",
        f"- {_cell(v.summary)}",
        f"- exit code {v.exit_code} (0 only when every required check passes; "
        "n/a never counts as a pass)",
        "",
        "## Checks",
        "",
        "| check | target | measured | expected | status | severity | required | action |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_check_row(c) for c in v.checks]
    notes = [f"- `{c.name}`: {_cell(c.note)}" for c in v.checks if c.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += ["", *_node_section(v.probe)]
    if any(s.gpus for s in v.samples):
        lines += ["", *_load_section(v)]
    if v.micro is not None:
        lines += ["", *_micro_section(v.micro)]
    if v.inference is not None:
        i = v.inference
        lines += [
            "",
            "## Inference",
            "",
            f"- output throughput: {fmt(i.output_tok_per_s)} tok/s"
            + (f" (error: {_cell(i.error)})" if i.error else ""),
            f"- model {_cell(i.model)}, workload {_cell(i.workload)}, run dir {_cell(i.run_dir)}",
        ]
    if v.soak is not None:
        rates = ", ".join(fmt(r.output_tok_per_s) for r in v.soak.runs)
        lines += [
            "",
            "## Soak",
            "",
            f"- {len(v.soak.runs)} runs in {v.soak.duration_s:.0f} s "
            f"(asked {v.soak.requested_s:.0f} s); output tok/s: {rates or '-'}",
        ]
    if v.notes:
        lines += ["", "## Run notes", "", *[f"- {_cell(n)}" for n in v.notes]]
    return "\n".join(lines) + "\n"


def render_probe(p: NodeProbe) -> str:
    """`bench probe`'s text: the node section of verdict.md, plus where the data came from."""
    lines = _node_section(p)
    lines += [
        "",
        f"probed {p.taken_utc} on {_cell(p.host)} ({_cell(p.platform)}); source {p.source}",
    ]
    errors = [f"- gpu{g.index}: {_cell(g.nvml_errors)}" for g in p.gpus if g.nvml_errors]
    if errors:
        lines += ["", "NVML errors:", *errors]
    return "\n".join(lines) + "\n"


def _check_row(c: Check) -> str:
    cells = [
        f"`{c.name}`",
        c.target,
        c.measured_text,
        c.expected,
        _STATUS[c.status],
        c.severity,
        "yes" if c.required else "no",
        c.action or "",
    ]
    return "| " + " | ".join(_cell(x) for x in cells) + " |"


def _node_section(p: NodeProbe) -> list[str]:
    cpu = p.cpu
    lines = [
        "## Node",
        "",
        f"- GPUs: {_cell(p.gpu_status)}; driver {p.driver_version or '-'}, "
        f"CUDA {p.cuda_driver_version or '-'}",
        f"- CPU: {_cell(cpu.model)}, {cpu.physical_cores or '-'} cores / "
        f"{cpu.logical_cores or '-'} threads, {cpu.sockets or '-'} socket(s); memory "
        f"{_gib(cpu.memory_total_bytes)} GiB ({_gib(cpu.memory_available_bytes)} GiB available)",
    ]
    if not p.gpus:
        return lines
    lines += [
        "",
        "| gpu | name | memory GiB | VBIOS | power limit / default W | PCIe now / max | "
        "NVLink up | temp °C | ECC | throttle |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in p.gpus:
        ecc = "-" if g.ecc_enabled is None else ("on" if g.ecc_enabled else "off")
        cells = [
            str(g.index),
            g.name,
            _gib(g.memory_total_bytes),
            g.vbios_version or "-",
            f"{fmt(g.power_limit_w)} / {fmt(g.power_limit_default_w)}",
            f"Gen{g.pcie_gen} x{g.pcie_width} / Gen{g.pcie_gen_max} x{g.pcie_width_max}",
            f"{g.nvlink_links_active}/{g.nvlink_links_present}",
            fmt(g.temperature_c, 0),
            ecc,
            ", ".join(g.throttle_reasons or []) or "-",
        ]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return lines


def _load_section(v: Verdict) -> list[str]:
    """Per GPU, what NVML saw while the work ran: peak temperature, power, lowest SM clock."""
    lines = [
        "## Under load (NVML samples during microbenchmarks and soak)",
        "",
        "| gpu | samples | peak °C | peak W | mean W | limit W | min SM MHz | throttle reasons |",
        "|---|---|---|---|---|---|---|---|",
    ]
    limits = {g.index: g.power_limit_w for g in v.probe.gpus}
    busy = [g for s in v.samples if s.phase != "final" for g in s.gpus]
    for index in sorted({g.index for g in busy}):
        mine = [g for g in busy if g.index == index]
        temps = [g.temperature_c for g in mine if g.temperature_c is not None]
        power = [g.power_w for g in mine if g.power_w is not None]
        clocks = [g.clock_sm_hz for g in mine if g.clock_sm_hz is not None]
        reasons = sorted({r for g in mine for r in (g.throttle_reasons or [])})
        cells = [
            str(index),
            str(len(mine)),
            fmt(max(temps), 0) if temps else "-",
            fmt(max(power), 0) if power else "-",
            fmt(sum(power) / len(power), 0) if power else "-",
            fmt(limits.get(index), 0),
            fmt(min(clocks) / 1e6, 0) if clocks else "-",
            ", ".join(reasons) or "-",
        ]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return lines


def _micro_section(m: MicroReport) -> list[str]:
    lines = [
        "## Microbenchmarks",
        "",
        f"{m.backend} backend, torch {m.torch_version}, {m.duration_s:.1f} s; "
        "median of repeats after warm-up",
        "",
        "| metric | device | scope | value | median time per op | error |",
        "|---|---|---|---|---|---|",
    ]
    for r in m.results:
        scale, unit = _SCALE[r.unit]
        if r.metric.startswith("cpu_gemm"):
            scale, unit = 1e9, "GFLOP/s"
        value = f"{fmt(r.value / scale)} {unit}" if r.value is not None else "-"
        median = f"{r.median_s * 1e3:.3f} ms" if r.median_s is not None else "-"
        cells = [r.metric, r.device, r.scope, value, median, r.error or ""]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    if m.skipped:
        lines += ["", *[f"- skipped: {_cell(s)}" for s in m.skipped]]
    return lines


def _gib(nbytes: int | None) -> str:
    return f"{nbytes / (1 << 30):.1f}" if nbytes is not None else "-"


def _cell(text: object) -> str:
    """Table-safe text: no pipes or newlines break the row."""
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")
