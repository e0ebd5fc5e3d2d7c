"""Canonical metrics (DESIGN.md): small pure functions over `RequestRecord`s."""
