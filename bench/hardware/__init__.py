"""Hardware profiles: one YAML per SKU with sourced specs, power, prices and acceptance bands."""

from bench.hardware.profiles import default_hardware_dir, known_skus, list_profiles, load_profile
from bench.hardware.schema import (
    Acceptance,
    Band,
    Figure,
    HardwareProfile,
    InferenceBand,
    OwnedTier,
    Prices,
    RentTier,
    TextFigure,
)

__all__ = [
    "Acceptance",
    "Band",
    "Figure",
    "HardwareProfile",
    "InferenceBand",
    "OwnedTier",
    "Prices",
    "RentTier",
    "TextFigure",
    "default_hardware_dir",
    "known_skus",
    "list_profiles",
    "load_profile",
]
