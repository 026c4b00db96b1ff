"""The evaluate stage: metrics on the test split, robustness against noise, the report.

Public API: :func:`run_evaluation` (a model on the test split), :func:`run_robustness`
(accuracy against noise level), :func:`build_report` (results/report), and the pure metrics of
:mod:`xtalsym.evaluate.metrics`. Prediction and evaluation on a user's own files live in
:mod:`xtalsym.predict`.
"""

from .metrics import compute_metrics
from .report import build_report
from .robustness import run_robustness
from .stage import run_evaluation, write_evaluation

__all__ = [
    "build_report",
    "compute_metrics",
    "run_evaluation",
    "run_robustness",
    "write_evaluation",
]
