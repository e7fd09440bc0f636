"""Images for people to look at: synthesis previews, training samples, and the reflection layer and map
as rrgan-demo and the quickstart notebook show them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from rrgan.data.images import encode_image
from rrgan.files import atomic_write

_HEADER = 22
MAP_OPACITY = 0.5  # of the colour-mapped reflection map laid over a photo


def _to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.round(image.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image


def image_grid(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str] = (), gap: int = 4) -> np.ndarray:
    """Tile images (float in [0, 1] or uint8; 1 or 3 channels; all the same size) into one uint8 RGB
    picture, with a title above each column."""
    cells = [[_to_uint8_rgb(image) for image in row] for row in rows]
    height, width = cells[0][0].shape[:2]
    columns = max(len(row) for row in cells)
    header = _HEADER if titles else 0
    grid = np.full((header + len(cells) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for c, title in enumerate(titles):
        cv2.putText(grid, title, (c * (width + gap) + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for r, row in enumerate(cells):
        for c, image in enumerate(row):
            top, left = header + r * (height + gap), c * (width + gap)
            grid[top:top + height, left:left + width] = image
    return grid


def letterbox(image: np.ndarray, side: int, caption: str = "") -> np.ndarray:
    """``image`` scaled to fit a white ``side`` x ``side`` square (aspect kept, centred), with an
    optional caption on a white band at the top: pictures of any size side by side in ``image_grid``."""
    image = _to_uint8_rgb(image)
    scale = side / max(image.shape[:2])
    height, width = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
    square = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if caption:
        square[:_HEADER] = 255
        cv2.putText(square, caption, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return square


def save_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> Path:
    """Write an image atomically (a viewer never sees half a file), encoded by the file's suffix: RGB,
    or 8-bit gray for a 2-D uint8 array (an attention map)."""
    path, image = Path(path), np.asarray(image)
    gray = image.ndim == 2 and image.dtype == np.uint8
    return atomic_write(path, encode_image(image if gray else _to_uint8_rgb(image), path.suffix, jpeg_quality))


def brighten(reflection: np.ndarray) -> np.ndarray:
    """The reflection layer stretched so that its 99th percentile is white: as it is, it is mostly near black."""
    gain = 255.0 / max(float(np.percentile(reflection, 99)), 1.0)
    return np.clip(np.round(reflection * gain), 0, 255).astype(np.uint8)


def overlay(photo: np.ndarray, attention_map: np.ndarray) -> np.ndarray:
    """The reflection map laid over the photo in colour (blue: no reflection, red: sure of one), at its
    own scale: a map that is low everywhere stays blue."""
    colors = cv2.cvtColor(cv2.applyColorMap(attention_map, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return np.round(photo * (1.0 - MAP_OPACITY) + colors * MAP_OPACITY).astype(np.uint8)
