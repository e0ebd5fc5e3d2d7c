"""tokenbench: what does a token cost on this card, and what should we charge for it?

Importing this package is cheap: it never imports vLLM, torch or NVML.
"""

__version__ = "0.1.0"
