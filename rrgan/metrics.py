"""Tensor metrics for training and serving: quantizing and PSNR / SSIM of float batches.

Kept apart from ``rrgan.evaluation`` (tables and figures) so that inference and export load no
plotting or table libraries.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SSIM_WINDOW = "Gaussian 11x11, sigma 1.5 (tf.image.ssim)"


def quantize(images: tf.Tensor) -> tf.Tensor:
    """Float images in [0, 1] to the uint8 values a saved photo would have."""
    return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)


def psnr_ssim(prediction: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-image PSNR (dB) and SSIM (``SSIM_WINDOW``) of float [B, H, W, 3] batches, after quantizing."""
    prediction, target = quantize(prediction), quantize(target)
    return tf.image.psnr(prediction, target, max_val=255), tf.image.ssim(prediction, target, max_val=255)


def validation_scores(remove, sets: dict[str, tf.data.Dataset]) -> dict[str, dict[str, float]]:
    """Mean PSNR / SSIM of ``remove`` (float photos -> float transmissions) and of the identity
    baseline on each named set of pairs: {set: {psnr, ssim, identity_psnr, identity_ssim}}."""
    scores = {}
    for name, dataset in sets.items():
        values = {"psnr": [], "ssim": [], "identity_psnr": [], "identity_ssim": []}
        for example in dataset:
            psnr, ssim = psnr_ssim(remove(example["input"]), example["target"])
            identity_psnr, identity_ssim = psnr_ssim(example["input"], example["target"])
            for key, value in zip(values, (psnr, ssim, identity_psnr, identity_ssim)):
                values[key].append(float(value[0]))
        scores[name] = {key: float(np.mean(value)) for key, value in values.items()}
    return scores


def mean_psnr_gain(scores: dict[str, dict[str, float]]) -> float:
    """The mean over sets of PSNR minus identity PSNR: the number by which a run keeps its best model,
    so that no single set decides."""
    return float(np.mean([s["psnr"] - s["identity_psnr"] for s in scores.values()]))


def beats_identity(scores: dict[str, dict[str, float]]) -> bool:
    """True when PSNR and SSIM both beat the identity baseline on every set: a model that loses
    either on any set makes some photos worse, whatever its mean gain."""
    return all(s["psnr"] > s["identity_psnr"] and s["ssim"] > s["identity_ssim"] for s in scores.values())


def model_rank(scores: dict[str, dict[str, float]]) -> tuple[bool, float]:
    """How a run ranks its models (higher is better): first whether it beats identity everywhere
    (``beats_identity``), then its ``mean_psnr_gain``."""
    return beats_identity(scores), mean_psnr_gain(scores)
