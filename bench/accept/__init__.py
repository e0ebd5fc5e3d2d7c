"""Acceptance testing of delivered GPU nodes: probe, microbenchmarks, inference, verdict.

`bench probe` reads the node's inventory and health (NVML behind `bench.nvml`);
`bench accept --sku S` adds torch microbenchmarks, an inference check and an optional soak,
and compares everything with the SKU's reference bands (`bench.accept.bands`).
Nothing here imports torch or NVML at module level.
"""
