"""The embedded default data: procedurally drawn scenes, so rrgan runs with no dataset at all.

The scenes have what reflection removal needs to learn from: smooth shading, sharp object edges,
textures at several scales and strong colours. Blending one scene onto another with a blurred
reflection (``rrgan.data.synthesis``) gives training pairs with an exact ground truth. They are
made from a seed, so every machine gets the same images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from rrgan.config import SynthesisConfig
from rrgan.data.synthesis import synthesize
from rrgan.visualize import save_image


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency colour noise: a small random grid upsampled with cubic interpolation."""
    grid = rng.uniform(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def draw_scene(seed: int, size: int) -> np.ndarray:
    """One uint8 RGB scene [size, size, 3]: a shaded background with shapes, stripes and lines."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * ramp[None, :, None] + np.sin(angle) * ramp[:, None, None]
    top, bottom = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    background = top + (bottom - top) * (gradient - gradient.min()) / (np.ptp(gradient) + 1e-6)
    background = 0.7 * background + 0.3 * _smooth_field(rng, size, int(rng.integers(3, 7)))
    scene = np.ascontiguousarray(np.clip(background * 255, 0, 255).astype(np.uint8))

    for _ in range(int(rng.integers(4, 12))):
        kind = rng.choice(["rectangle", "circle", "polygon", "stripes", "line"])
        colour = _colour(rng)
        x, y = (int(v) for v in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 12, size // 3))
        if kind == "rectangle":
            cv2.rectangle(scene, (x, y), (x + extent, y + int(extent * rng.uniform(0.4, 1.6))), colour, -1)
        elif kind == "circle":
            cv2.circle(scene, (x, y), extent // 2, colour, -1, lineType=cv2.LINE_AA)
        elif kind == "polygon":
            points = rng.integers(-extent, extent, (int(rng.integers(3, 7)), 2)) + np.array([x, y])
            cv2.fillPoly(scene, [points.astype(np.int32)], colour, lineType=cv2.LINE_AA)
        elif kind == "stripes":
            period = rng.uniform(3, 14)
            yy, xx = np.mgrid[0:size, 0:size]
            mask = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0
            mask &= (np.abs(xx - x) < extent) & (np.abs(yy - y) < extent)
            scene[mask] = colour
        else:
            end = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(scene, (x, y), end, colour, int(rng.integers(1, 4)), lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(scene, (3, 3), 0.6)


def write_default_photos(folder: str | Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """Write ``count`` scenes as PNGs into ``folder`` (kept if already complete) and return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"scene_{seed:03d}_{i:04d}_{size}.png" for i in range(count)]
    for index, path in enumerate(paths):
        if not path.exists():
            save_image(path, draw_scene(seed * 100_003 + index, size))
    return paths


def write_default_pairs(folder: str | Path, count: int, size: int, seed: int = 1) -> Path:
    """Write ``count`` held-out synthetic pairs (``input/`` + ``target/``) for validation, made from
    scenes that the default photos do not contain (a different seed)."""
    folder = Path(folder)
    scenes = [draw_scene(seed * 100_003 + i, size) for i in range(2 * count)]
    for index in range(count):
        if (folder / "input" / f"{index:04d}.png").exists() and (folder / "target" / f"{index:04d}.png").exists():
            continue
        transmission, reflection = (tf.constant(s, tf.float32) / 255.0 for s in scenes[2 * index:2 * index + 2])
        image, transmission, _ = synthesize(transmission, reflection, tf.constant([seed, index]), SynthesisConfig())
        for name, layer in (("target", transmission), ("input", image)):
            save_image(folder / name / f"{index:04d}.png", np.round(layer.numpy() * 255).astype(np.uint8))
    return folder
