"""The train stage: data loading, the resumable trainer and the model bundle."""

from .bundle import load_bundle, predict_proba, save_bundle
from .data import compose_inputs
from .trainer import run_training

__all__ = ["compose_inputs", "load_bundle", "predict_proba", "run_training", "save_bundle"]
