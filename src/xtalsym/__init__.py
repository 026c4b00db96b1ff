"""xtalsym: space-group identification from simulated 2D diffraction patterns.

Reproduces Tiong, Kim, Han & Kim, npj Comput. Mater. 6, 196 (2020): three spot patterns per
crystal, shaped into edge images (XRD-Edge), classified by a multistream DenseNet (MSDN); and
classifies recorded patterns: ``xtalsym.predict_patterns(arrays, scale=...)``.
"""

__version__ = "0.1.0"


def predict_patterns(arrays, scale=None, model=None, **options):  # noqa: ANN001, ANN201
    """Classify one to three recorded patterns (arrays (H, W), ``scale`` Å⁻¹ per pixel) with
    ``model`` (a bundle folder; default the committed recorded-pattern model): the record of
    :func:`xtalsym.predict.predict_patterns`."""
    # imported here so that `import xtalsym` stays light (no torch, no pymatgen)
    from .cli.common import model_or_reference
    from .predict import predict_patterns as _predict

    return _predict(arrays, model_or_reference(model, recorded=True), scale=scale, **options)
