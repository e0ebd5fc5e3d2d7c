"""Cost model: GPU-hour cost on a rent or owned basis, cost per token, additive token prices,
quotes and SKU comparisons. Formulas are pure functions in `formulas`; docs/cost-model.md."""

from bench.cost.assumptions import CostAssumptions, load_assumptions, with_overrides
from bench.cost.breakdown import gpu_hour_cost, run_cost

__all__ = ["CostAssumptions", "gpu_hour_cost", "load_assumptions", "run_cost", "with_overrides"]
