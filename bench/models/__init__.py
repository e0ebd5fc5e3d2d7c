"""Embedded models built locally and deterministically (nothing is downloaded)."""
