"""Read the file ``pack.py`` writes (no TensorFlow here: the GPU machine has none)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image


def decode_all(data: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """The ``key`` images ("input", "target" or "photo") of a packed file, uint8 [N, size, size, 3]."""
    blob, offsets = data[f"{key}_bytes"], data[f"{key}_offsets"]
    chunks = [blob[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(offsets) - 1)]
    with ThreadPoolExecutor() as pool:
        images = list(pool.map(lambda b: np.asarray(Image.open(io.BytesIO(b)).convert("RGB")), chunks))
    return np.stack(images)
