import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA.resolve()


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write an RGB (or gray / RGBA / 16-bit) array with OpenCV, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    assert cv2.imwrite(str(path), image), path
    return path


def random_image(seed: int, height: int = 24, width: int = 32, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def make_pair_folder(root: Path, stems, input_dir="input", target_dir="target", size=(24, 32), ext=".png",
                     reflection_dir=None) -> Path:
    for i, stem in enumerate(stems):
        image = random_image(i, *size)
        write_image(root / input_dir / f"{stem}{ext}", image)
        write_image(root / target_dir / f"{stem}{ext}", 255 - image)
        if reflection_dir:
            write_image(root / reflection_dir / f"{stem}{ext}", image // 2)
    return root


def make_unequal_pair_sets(root: Path) -> Path:
    """Two pair sets under ``root``: ``small``, 1 dark pair, beside ``large``, 9 bright ones. A tenth of
    the real pairs come from ``small`` when sets are taken by size, half when they are balanced; a
    mean below 0.5 says which set a view came from."""
    for name, count, level in (("small", 1, 40), ("large", 9, 200)):
        for i in range(count):
            write_image(root / name / "input" / f"{i}.png", np.full((40, 40, 3), level, np.uint8))
            write_image(root / name / "target" / f"{i}.png", np.full((40, 40, 3), level - 10, np.uint8))
    return root


def write_presence_sources(root: Path, photos: int = 40) -> tuple[list[Path], list[Path]]:
    """Real pairs (their targets a little darker, as the pair filters expect) and clean photos: what
    the presence stage fits its head on and sets its odds by. Returns (--data, --photos)."""
    from rrgan.data.default import draw_scene

    for i in range(6):
        image = random_image(i, 40, 56)
        write_image(root / "pairs" / "glass" / "input" / f"p{i}.png", image)
        write_image(root / "pairs" / "glass" / "target" / f"p{i}.png", (image * 0.9).astype(np.uint8))
    for i in range(photos):
        write_image(root / "photos" / f"photo{i}.png", draw_scene(i, 64))
    return [root / "pairs"], [root / "photos"]


def random_networks(seed: int = 0, scale: float = 0.1):
    """Tiny networks with random weights, so that an export or tiling comparison means something
    (an untrained generator is the identity)."""
    from rrgan.config import preset
    from rrgan.models import build_networks

    networks = build_networks(preset("tiny").model)
    rng = np.random.default_rng(seed)
    for model in (networks.edge_net, networks.attention_net, networks.generator):
        model.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in model.get_weights()])
    return networks


def write_vgg19_npz(path, quantized_blocks=("block4", "block5")):
    """A VGG19 weights file in the layout of ../shared/weights: float kernels, or uint8 ones with a
    per-tensor min and scale (as TF.js publishes them)."""
    import keras

    vgg = keras.applications.VGG19(include_top=False, weights=None)
    arrays = {}
    for layer in vgg.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        kernel, bias = layer.get_weights()
        bias = np.random.default_rng(0).normal(0, 0.1, bias.shape).astype("float32")
        if layer.name.startswith(quantized_blocks):
            low, scale = kernel.min(), (kernel.max() - kernel.min()) / 255
            arrays[f"{layer.name}/kernel_uint8"] = np.round((kernel - low) / scale).astype(np.uint8)
            arrays[f"{layer.name}/kernel_min"] = np.float32(low)
            arrays[f"{layer.name}/kernel_scale"] = np.float32(scale)
        else:
            arrays[f"{layer.name}/kernel"] = kernel
        arrays[f"{layer.name}/bias"] = bias
    np.savez(path, **arrays)
    return arrays
