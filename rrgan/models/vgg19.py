"""ImageNet VGG19 (Simonyan and Zisserman), the perceptual and hypercolumn network of Zhang et al.
2018 and ERRNet: Keras's ``keras.applications.VGG19`` with its ImageNet weights, taken from a local
file when one is named (``$RRGAN_VGG19_WEIGHTS``, or a path given in the config), else downloaded
by Keras once on first use. The weights never ship with rrgan, nor enter its checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from rrgan.errors import RRGANError

VGG19_WEIGHTS_VARIABLE = "RRGAN_VGG19_WEIGHTS"  # a local VGG19 weights file, instead of Keras's download
VGG_MEAN_BGR = (103.939, 116.779, 123.68)  # Keras's "caffe" preprocessing of VGG19
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (channels, convs) per block


def imagenet_vgg19(weights: str = "vgg19") -> keras.Model:
    """Keras's VGG19 (no top), frozen, with ImageNet weights: ``weights`` is "vgg19" (the file of
    $RRGAN_VGG19_WEIGHTS if set, else Keras's download) or the path of a Keras no-top .h5 or of a
    .npz of its conv layers (``load_vgg19_npz``)."""
    if weights in ("vgg19", "imagenet"):  # "imagenet": the name configs before rrgan 0.3 used
        weights = os.environ.get(VGG19_WEIGHTS_VARIABLE) or "imagenet"
    if weights != "imagenet" and not Path(weights).is_file():
        raise RRGANError(f"VGG19 weights: {weights}: no such file (a Keras VGG19 no-top .h5 or a .npz of its conv "
                         f"layers; or unset ${VGG19_WEIGHTS_VARIABLE} to download them)")
    try:
        vgg = keras.applications.VGG19(include_top=False, weights="imagenet" if weights == "imagenet" else None)
    except Exception as err:  # a failed download surfaces as many exception types
        raise RRGANError(f"VGG19 needs its ImageNet weights and could not download them ({err}); name a local "
                         f"file with ${VGG19_WEIGHTS_VARIABLE} (or loss.perceptual_weights), or choose "
                         f"'hed' or 'efficientnet_lite0', which ship with their weights") from None
    if weights.endswith(".npz"):
        load_vgg19_npz(vgg, weights)
    elif weights != "imagenet":
        vgg.load_weights(weights)
    vgg.trainable = False
    return vgg


def load_vgg19_npz(vgg: keras.Model, path: str | Path) -> None:
    """Load VGG19 conv weights from a .npz keyed ``<layer>/kernel`` and ``<layer>/bias`` (HWIO, as
    Keras stores them); a kernel may be stored as uint8 with ``<layer>/kernel_min`` and
    ``<layer>/kernel_scale`` (as TF.js publishes it). Every conv layer must be there."""
    with np.load(path) as stored:
        for layer in vgg.layers:
            if not isinstance(layer, keras.layers.Conv2D):
                continue
            if f"{layer.name}/bias" not in stored:
                raise RRGANError(f"{path}: no weights for VGG19 layer {layer.name}")
            kernel = (stored[f"{layer.name}/kernel"] if f"{layer.name}/kernel" in stored else
                      stored[f"{layer.name}/kernel_uint8"].astype("float32") * stored[f"{layer.name}/kernel_scale"]
                      + stored[f"{layer.name}/kernel_min"])
            layer.set_weights([kernel, stored[f"{layer.name}/bias"]])
