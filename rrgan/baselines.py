"""Classical reflection suppression that needs no training.

Yang, Li, Shi, "Fast Single Image Reflection Suppression via Convex Optimization", CVPR 2019:
reflections through glass are usually out of focus, so their gradients are small. Keep only the
image gradients whose magnitude is at least ``threshold`` and find the image T whose Laplacian
best matches the divergence of those gradients while staying close to the input:

    min_T  1/2 || lap(T) - div(delta_h(grad I)) ||^2  +  eps/2 || T - I ||^2

The Laplacian is diagonal in the DCT basis (Neumann boundaries), so the solution is closed form:
T_hat = (kappa * P_hat + eps * I_hat) / (kappa^2 + eps), with kappa the Laplacian's eigenvalues.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dctn, idctn


def _laplacian_eigenvalues(height: int, width: int) -> np.ndarray:
    rows = 2.0 * np.cos(np.pi * np.arange(height) / height) - 2.0
    columns = 2.0 * np.cos(np.pi * np.arange(width) / width) - 2.0
    return rows[:, None] + columns[None, :]


def yang2019(image: np.ndarray, threshold: float = 0.03, epsilon: float = 1e-8) -> np.ndarray:
    """Suppress reflections in a uint8 RGB photo [H, W, 3]; returns uint8 [H, W, 3].

    ``threshold`` is the gradient magnitude (image in [0, 1]) below which gradients are treated
    as reflection; ``epsilon`` ties the result to the input (and fixes its mean).
    """
    photo = image.astype(np.float64) / 255.0
    grad_x = np.diff(photo, axis=1, append=photo[:, -1:])  # forward differences, zero at the far border
    grad_y = np.diff(photo, axis=0, append=photo[-1:])
    magnitude = np.sqrt(np.sum(grad_x ** 2 + grad_y ** 2, axis=2, keepdims=True))
    keep = magnitude >= threshold
    grad_x, grad_y = grad_x * keep, grad_y * keep
    # divergence by backward differences: the adjoint of the forward gradient above
    divergence = (np.diff(grad_x, axis=1, prepend=np.zeros_like(grad_x[:, :1]))
                  + np.diff(grad_y, axis=0, prepend=np.zeros_like(grad_y[:1])))
    kappa = _laplacian_eigenvalues(*photo.shape[:2])[..., None]
    transformed = (kappa * dctn(divergence, type=2, axes=(0, 1), norm="ortho")
                   + epsilon * dctn(photo, type=2, axes=(0, 1), norm="ortho")) / (kappa ** 2 + epsilon)
    result = idctn(transformed, type=2, axes=(0, 1), norm="ortho")
    return np.clip(np.round(result * 255.0), 0, 255).astype(np.uint8)
