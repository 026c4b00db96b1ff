"""The train stage: data loading, the resumable trainer and the model bundle."""

from ..models import compose_inputs
from .bundle import load_bundle, predict_proba, save_bundle
from .trainer import run_train

__all__ = [
    "compose_inputs",
    "load_bundle",
    "predict_proba",
    "run_train",
    "save_bundle",
]
