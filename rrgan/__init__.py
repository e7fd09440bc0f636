"""rrgan: single-image reflection removal with an attentive, edge-guided GAN."""

__version__ = "0.1.0"
