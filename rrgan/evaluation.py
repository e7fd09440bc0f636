"""Evaluation by the field's protocol: PSNR and SSIM on uint8 RGB (data range 255), full image,
scikit-image style, with the identity baseline (input as output) always beside a method.

Two SSIM flavours exist and differ slightly; every number says which one it is:
``rrgan.metrics.SSIM_WINDOW`` (tf.image.ssim, used for quick validation during training) and
``SKIMAGE_SSIM_WINDOW`` (scikit-image's default, used by ``rrgan-eval`` and in papers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image
from scipy.ndimage import uniform_filter
from tqdm.auto import tqdm

from rrgan.data.images import DEFAULT_MAX_PIXELS, read_rgb
from rrgan.data.pairs import find_pair_sets
from rrgan.data.pipeline import held_out_pairs
from rrgan.metrics import level_free_psnr, psnr

SKIMAGE_SSIM_WINDOW = "uniform 7x7, sample covariance (scikit-image default)"

# (uint8 [H, W, 3]) -> uint8 [H, W, 3]
Method = Callable[[np.ndarray], np.ndarray]


def ssim(prediction: np.ndarray, target: np.ndarray, window: int = 7) -> float:
    """SSIM of uint8 RGB images, mean over channels, as skimage.metrics.structural_similarity
    (data_range=255, channel_axis=2, its default 7x7 uniform window and sample covariance)."""
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    covariance_norm = window ** 2 / (window ** 2 - 1.0)
    pad = (window - 1) // 2
    scores = []
    for channel in range(prediction.shape[2]):
        x = prediction[..., channel].astype(np.float64)
        y = target[..., channel].astype(np.float64)
        mean_x, mean_y = uniform_filter(x, window), uniform_filter(y, window)
        var_x = covariance_norm * (uniform_filter(x * x, window) - mean_x ** 2)
        var_y = covariance_norm * (uniform_filter(y * y, window) - mean_y ** 2)
        cov_xy = covariance_norm * (uniform_filter(x * y, window) - mean_x * mean_y)
        ssim_map = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
                    / ((mean_x ** 2 + mean_y ** 2 + c1) * (var_x + var_y + c2)))
        scores.append(ssim_map[pad:-pad, pad:-pad].mean())
    return float(np.mean(scores))


def resize_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """``image`` resized (Pillow's bicubic) to the nearest lower multiple of ``multiple`` per side:
    the protocol of ERRNet, DSRNet and RDNet's published numbers, which resize input and target
    alike before a model that needs sides divisible by 32 sees them."""
    height, width = (max(multiple, side // multiple * multiple) for side in image.shape[:2])
    if (height, width) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))


def evaluate(methods: dict[str, Method], folders: Iterable[str | Path], progress: bool = True,
             max_pixels: int = DEFAULT_MAX_PIXELS, resize_multiple: int = 0, pair_holdout: float = 0.0) -> pd.DataFrame:
    """One row per (set, image, method): PSNR, SSIM, level-free PSNR (``level_free_psnr``) and the
    level (output / target mean brightness), with the identity baseline added.

    A set is every pair folder found at or below each of ``folders``; with ``pair_holdout``, only
    its pairs that training with ``data.pair_holdout`` of that value never saw. With
    ``resize_multiple`` both images of a pair are first resized to a multiple of it per side
    (``resize_to_multiple``).
    """
    methods = {"identity": lambda image: image, **methods}
    rows = []
    pair_sets = [s for folder in folders for s in find_pair_sets(folder)]
    if pair_holdout > 0.0:
        pair_sets = [held_out_pairs(pair_set, pair_holdout) for pair_set in pair_sets]
    with tqdm(total=sum(len(s) for s in pair_sets), desc="evaluating", unit="img", disable=not progress) as bar:
        for pair_set in pair_sets:
            for pair in pair_set.pairs:
                image, target = read_rgb(pair.input, max_pixels), read_rgb(pair.target, max_pixels)
                if resize_multiple:
                    image, target = (resize_to_multiple(x, resize_multiple) for x in (image, target))
                for name, method in methods.items():
                    output = method(image)
                    rows.append({"set": pair_set.root.name, "image": pair.name, "method": name,
                                 "psnr": psnr(output, target), "ssim": ssim(output, target),
                                 "level_free_psnr": level_free_psnr(output, target),
                                 "level": float(output.mean() / max(target.mean(), 1e-9))})
                bar.update(1)
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean PSNR / SSIM / level-free PSNR / level per set and method, with the image count."""
    summary = table.groupby(["set", "method"], sort=False).agg(
        images=("image", "count"), psnr=("psnr", "mean"), ssim=("ssim", "mean"),
        level_free_psnr=("level_free_psnr", "mean"), level=("level", "mean"))
    return summary.reset_index()


def comparison_figure(path: str | Path, rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """A matplotlib figure, one row per image: input | output | target, with PSNR in the titles."""
    figure = Figure(figsize=(12, 3.6 * len(rows)))  # no pyplot: works headless and leaves the backend alone
    axes = figure.subplots(len(rows), 3, squeeze=False)
    for axis_row, (name, image, output, target) in zip(axes, rows):
        panels = ((f"{name}: input ({psnr(image, target):.2f} dB)", image),
                  (f"output ({psnr(output, target):.2f} dB)", output), ("target", target))
        for axis, (title, picture) in zip(axis_row, panels):
            axis.imshow(picture)
            axis.set_title(title, fontsize=10)
            axis.axis("off")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
