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


def psnr(prediction: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of uint8 images, data range 255 (as skimage.metrics.peak_signal_noise_ratio)."""
    error = np.mean((prediction.astype(np.float64) - target.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10.0 * np.log10(255.0 ** 2 / error))


def level_free_psnr(prediction: np.ndarray, target: np.ndarray) -> float:
    """PSNR of uint8 ``prediction`` after the one least-squares gain that fits it to ``target``: the
    local removal apart from the photo's overall level, which the camera's exposure changes in
    real pairs as much as the glass does (README, "Where the gap is")."""
    x, t = prediction.astype(np.float64), target.astype(np.float64)
    gain = (x * t).sum() / max((x * x).sum(), 1e-9)
    return psnr(np.clip(np.round(x * gain), 0, 255).astype(np.uint8), target)


def validation_scores(remove, sets: dict[str, tf.data.Dataset]) -> dict[str, dict[str, float]]:
    """Mean PSNR, SSIM and level-free PSNR of ``remove`` (float photos -> float transmissions) and of
    the identity baseline on each named set of pairs: {set: {psnr, ssim, identity_psnr,
    identity_ssim, level_free_psnr, identity_level_free_psnr}}."""
    scores = {}
    for name, dataset in sets.items():
        values = {key: [] for key in ("psnr", "ssim", "identity_psnr", "identity_ssim", "level_free_psnr",
                                      "identity_level_free_psnr")}
        for example in dataset:
            output, target = remove(example["input"]), example["target"]
            wanted = quantize(target)[0].numpy()
            for prefix, prediction in (("", output), ("identity_", example["input"])):
                psnr_value, ssim_value = psnr_ssim(prediction, target)
                values[f"{prefix}psnr"].append(float(psnr_value[0]))
                values[f"{prefix}ssim"].append(float(ssim_value[0]))
                values[f"{prefix}level_free_psnr"].append(level_free_psnr(quantize(prediction)[0].numpy(), wanted))
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
