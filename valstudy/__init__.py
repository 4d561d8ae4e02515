"""valstudy: a reproducible study of VAL (Chen, Gong and Bazzani, CVPR 2020)."""

__version__ = "0.1.0"
