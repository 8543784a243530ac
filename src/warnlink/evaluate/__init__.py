"""Evaluation of tracker output (estimates.jsonl) against the truth of a simulated run.

Kept apart from the tracker so that any tracker following docs/formats.md can be scored
the same way; definitions and defaults are in docs/evaluation.md.
"""

from warnlink.evaluate.load import EstimateTable, RunData, load_estimates, load_run
from warnlink.evaluate.metrics import EvalConfig, Evaluation, evaluate

__all__ = [
    "EstimateTable",
    "EvalConfig",
    "Evaluation",
    "RunData",
    "evaluate",
    "load_estimates",
    "load_run",
]
