"""xtalsym: space-group identification from simulated 2D diffraction patterns.

Reproduces Tiong, Kim, Han & Kim, npj Comput. Mater. 6, 196 (2020): three spot patterns per
crystal (beam along x, y, z), shaped into edge images (XRD-Edge), classified by a multistream
DenseNet (MSDN).
"""

__version__ = "0.1.0"
