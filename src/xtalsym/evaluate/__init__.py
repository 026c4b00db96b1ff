"""The evaluate stages: metrics on the test split, robustness against noise, the report.

Public API: :func:`run_evaluate` (a model on the test split), :func:`run_robustness`
(accuracy against noise level), :func:`run_report` (results/report), and the pure metrics of
:mod:`xtalsym.evaluate.metrics`. Evaluation on a directory of a user's structure files is
:mod:`xtalsym.evaluate.structures`; prediction on single files is :mod:`xtalsym.predict`.
"""

from .metrics import compute_metrics
from .report import run_report
from .robustness import run_robustness
from .stage import run_evaluate, write_evaluation

__all__ = [
    "compute_metrics",
    "run_evaluate",
    "run_report",
    "run_robustness",
    "write_evaluation",
]
