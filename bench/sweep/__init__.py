"""Sweeps and operating points: load ladders, curves, SLO search, repeatability, resume.

Pure logic lives in `curve`, `monotone`, `slo`, `slo_search`, `repeat` and `manifest`;
only `run` (the orchestration) starts servers and runs benchmarks.
"""
