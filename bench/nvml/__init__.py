"""NVIDIA GPUs through NVML: the one seam every GPU reading in tokenbench goes through.

`bench.nvml.library` imports and initialises pynvml (nvidia-ml-py) and holds what every
reader shares (NVML's "not supported" codes, the clocks-event reasons under either of
pynvml's names, their decoding). `bench.nvml.snapshot` reads a whole node at one moment
(`PynvmlSeam`, or `ReplayNvml` from a recorded snapshot) for the node probe and acceptance;
`bench.energy.nvml` samples energy and power for a run. Importing this package imports
neither pynvml nor anything else heavy.
"""
