"""Find and load hardware profiles.

One source of truth: the YAMLs live in the package (`bench/data/hardware/`), so an installed
tokenbench has them; the checkout's top-level `hardware/` is a symlink to that folder.
"""

from __future__ import annotations

from pathlib import Path

from bench.config.loading import load_model
from bench.errors import UserError
from bench.hardware.schema import HardwareProfile


def default_hardware_dir() -> Path:
    """The folder of shipped profiles (`bench/data/hardware/`, = `hardware/` in a checkout)."""
    return Path(__file__).resolve().parent.parent / "data" / "hardware"


def known_skus(hardware_dir: Path | None = None) -> list[str]:
    """SKU names (file stems) in `hardware_dir`, sorted."""
    folder = hardware_dir or default_hardware_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_profile(sku_or_path: str, hardware_dir: Path | None = None) -> HardwareProfile:
    """Load a profile by SKU name (`h100-sxm`) or by path to a YAML file.

    A value containing a path separator or ending in .yaml/.yml is a path; anything else is a
    SKU looked up in `hardware_dir` (default: the shipped profiles).

    Raises:
        UserError: unknown SKU (the message lists the known ones), missing file, malformed
            YAML, or an invalid field (named, with the file).
    """
    looks_like_path = "/" in sku_or_path or sku_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(sku_or_path)
    else:
        folder = hardware_dir or default_hardware_dir()
        path = folder / f"{sku_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(known_skus(folder)) or "(none)"
            raise UserError(
                f"unknown hardware SKU {sku_or_path!r}",
                file=folder,
                field="hardware",
                fix=f"use one of: {known}; or give the path to a profile YAML",
            )
    profile = load_model(HardwareProfile, path)
    if not looks_like_path and profile.sku != sku_or_path:
        raise UserError(
            f"sku is {profile.sku!r} but the file is named {path.name}",
            file=path,
            field="sku",
            fix=f"set sku: {sku_or_path} or rename the file to {profile.sku}.yaml",
        )
    return profile


def list_profiles(hardware_dir: Path | None = None) -> list[HardwareProfile]:
    """Every profile in `hardware_dir` (default: shipped ones), sorted by SKU.

    Raises:
        UserError: any profile is invalid (the first one found, with file and field).
    """
    folder = hardware_dir or default_hardware_dir()
    return [load_profile(sku, folder) for sku in known_skus(folder)]
