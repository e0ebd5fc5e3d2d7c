"""Hardware profiles: the shipped catalog loads, every figure is sourced and dated, bad files
and unknown SKUs give errors naming file, field and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bench.errors import UserError
from bench.hardware import default_hardware_dir, known_skus, list_profiles, load_profile

REQUIRED_SKUS = {
    "b200",
    "b300",
    "h200-sxm",
    "h100-sxm",
    "h100-pcie",
    "h800",
    "h20",
    "a100-80gb",
    "a800",
    "l40s",
    "l20",
    "rtx-4090",
    "rtx-5090",
    "mi300x",
    "mi325x",
    "mi355x",
    "ascend-910b",
    "ascend-910c",
    "cpu-local",
}


def test_repo_hardware_dir_is_the_packaged_one() -> None:
    repo_link = Path(__file__).resolve().parents[2] / "hardware"
    assert repo_link.resolve() == default_hardware_dir().resolve()
    assert default_hardware_dir().parts[-3:] == ("bench", "data", "hardware")


def test_catalog_has_every_required_sku() -> None:
    assert set(known_skus()) >= REQUIRED_SKUS


def test_every_profile_loads_and_every_figure_is_sourced_and_dated() -> None:
    profiles = list_profiles()
    assert len(profiles) >= len(REQUIRED_SKUS)
    for profile in profiles:
        figures = profile.figures()
        assert "memory_gb" in figures and "board_power_w" in figures, profile.sku
        for path, fig in figures.items():
            assert len(fig.source) >= 3, (profile.sku, path)
            assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", fig.date), (profile.sku, path)
            assert fig.reliability in {
                "verified",
                "secondary",
                "unverified",
                "derived",
                "assumption",
            }
        # a SKU either has a default rent tier or says where a price was looked for
        if profile.prices.rent:
            assert profile.prices.rent_tier(None) is not None, profile.sku
        else:
            missing = profile.prices.not_found("rent")
            assert missing is not None and "reference" in missing.where, profile.sku


def test_reference_figures_for_h100_sxm() -> None:
    p = load_profile("h100-sxm")
    assert p.kind == "gpu" and p.gpus_per_node == 8
    assert p.memory_gb.value == 80
    assert p.memory_bandwidth_gbps.value == 3350
    assert p.bf16_dense_tflops is not None and p.bf16_dense_tflops.value == 989
    assert p.fp8_dense_tflops is not None and p.fp8_dense_tflops.value == 1979
    assert p.board_power_w.value == 700
    tier = p.prices.rent_tier("semianalysis-3yr-rental")
    assert tier is not None and tier.usd_per_gpu_hour == 1.30
    assert p.acceptance is not None and p.acceptance.gemm_bf16_tflops_min is not None


def test_price_kinds_make_like_for_like_tiers_findable() -> None:
    h100, l40s = load_profile("h100-sxm"), load_profile("l40s")
    default = h100.prices.rent_tier(None)
    assert default is not None and (default.kind, default.provider) == ("3-year", "semianalysis")
    # the first tier of a kind is that kind's default: RunPod Secure for both on demand
    for p, price in ((h100, 3.49), (l40s, 1.09)):
        first = p.prices.rent_of_kind("on-demand")[0]
        assert (first.provider, first.usd_per_gpu_hour) == ("runpod-secure", price)
    lease = h100.prices.rent_tier("china-broker-server-lease")
    assert lease is not None and (lease.kind, lease.currency) == ("5-year", "CNY")
    assert [t.kind for t in h100.prices.owned] == ["owned-modelled"] * 2
    skus = ("h100-sxm", "h200-sxm", "a100-80gb")
    capex = {s: load_profile(s).prices.capex_usd_per_gpu for s in skus}
    assert {s: c.kind for s, c in capex.items() if c} == {
        "h100-sxm": "all-in",
        "h200-sxm": "street",
        "a100-80gb": "launch-list",
    }


@pytest.mark.parametrize("sku", ["h20", "h800", "l20", "ascend-910b", "ascend-910c"])
def test_domestic_cards_say_no_public_figure_instead_of_a_price(sku: str) -> None:
    p = load_profile(sku)
    assert p.prices.rent == [] and p.prices.capex_usd_per_gpu is None
    rent, capex = p.prices.not_found("rent"), p.prices.not_found("capex")
    assert rent is not None and capex is not None
    assert rent.checked == "2026-11" and "§2d" in rent.where


def test_cpu_local_is_a_labelled_cpu_profile() -> None:
    p = load_profile("cpu-local")
    assert p.kind == "cpu" and p.gpus_per_node == 1
    assert p.board_power_w.reliability == "assumption"
    tier = p.prices.rent_tier(None)
    assert tier is not None and tier.usd_per_gpu_hour == pytest.approx(0.0816)
    assert tier.includes_power is True


def test_unknown_sku_lists_known_ones() -> None:
    with pytest.raises(UserError) as err:
        load_profile("h9000")
    assert "h9000" in err.value.message
    assert "cpu-local" in (err.value.fix or "") and "h100-sxm" in (err.value.fix or "")


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((default_hardware_dir() / "cpu-local.yaml").read_text())
    mutate(data)
    path = tmp_path / "cpu-local.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_negative_price_names_file_and_field(tmp_path: Path) -> None:
    def neg(d):  # type: ignore[no-untyped-def]
        d["prices"]["rent"][0]["usd_per_gpu_hour"] = -0.5

    path = _write(tmp_path, neg)
    with pytest.raises(UserError) as err:
        load_profile(str(path))
    assert err.value.file == str(path)
    assert err.value.field == "prices.rent.0.usd_per_gpu_hour"
    assert "greater than 0" in err.value.message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["memory_gb"].pop("source"), "memory_gb.source"),
        (lambda d: d["memory_gb"].update(date="last year"), "memory_gb.date"),
        (lambda d: d["memory_gb"].update(reliability="trust me"), "memory_gb.reliability"),
        (lambda d: d.update(kind="tpu"), "kind"),
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["prices"].update(default_rent_tier="nope"), "prices"),
        (lambda d: d["prices"]["rent"][0].update(kind="forever"), "prices.rent.0.kind"),
        (lambda d: d["prices"]["rent"][0].pop("provider"), "prices.rent.0.provider"),
        (lambda d: d["prices"].update(rent=[], default_rent_tier=None), "prices"),
    ],
)
def test_bad_profile_fields(tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, mutate)
    with pytest.raises(UserError) as err:
        load_profile("cpu-local", tmp_path)
    assert err.value.file == str(path)
    assert err.value.field == field


def test_sku_must_match_file_name(tmp_path: Path) -> None:
    _write(tmp_path, lambda d: d.update(sku="other"))
    with pytest.raises(UserError) as err:
        load_profile("cpu-local", tmp_path)
    assert err.value.field == "sku"


def test_tier_needs_exactly_one_price(tmp_path: Path) -> None:
    _write(tmp_path, lambda d: d["prices"]["rent"][0].update(cny_per_gpu_month=600))
    with pytest.raises(UserError) as err:
        load_profile("cpu-local", tmp_path)
    assert err.value.field == "prices.rent.0"
    assert "exactly one" in err.value.message
