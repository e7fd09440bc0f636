"""Custom Keras layers shared by the networks, written with ``keras.ops`` so they run on any backend."""

from __future__ import annotations

import contextlib

import keras
from keras import layers, ops

LUMA = (0.299, 0.587, 0.114)


@contextlib.contextmanager
def dtype_policy(name: str | None):
    """Build layers under a dtype policy (None: keep the current one) without leaving it set for the
    rest of the process."""
    previous = keras.mixed_precision.dtype_policy()
    if name:
        keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def edge_pad(images, bottom, right, top=0, left=0):
    """Pad height and width by repeating the border pixels. Unlike reflect padding this works for
    any pad on any size, down to a 1x1 image, on every backend."""
    shape = ops.shape(images)
    rows = ops.clip(ops.arange(-top, shape[1] + bottom), 0, shape[1] - 1)
    columns = ops.clip(ops.arange(-left, shape[2] + right), 0, shape[2] - 1)
    return ops.take(ops.take(images, rows, axis=1), columns, axis=2)


@keras.saving.register_keras_serializable("rrgan")
class SobelEdges(layers.Layer):
    """Sobel gradient magnitude of the luminance, a fixed (non-trainable) operator.

    Scaled so that a unit step edge has magnitude 1. Edge padding keeps image borders from
    looking like edges. The kernel is a constant, not a weight, so nothing can train it.
    """

    def call(self, images):
        luma = ops.sum(images * ops.convert_to_tensor(LUMA, dtype=images.dtype), axis=-1, keepdims=True)
        padded = edge_pad(luma, 1, 1, 1, 1)
        dx = ops.convert_to_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=images.dtype)
        kernel = ops.stack([dx, ops.transpose(dx)], axis=-1)[:, :, None, :] / 4.0
        gradients = ops.conv(padded, kernel, padding="valid")
        return ops.sqrt(ops.sum(ops.square(gradients), axis=-1, keepdims=True) + 1e-6)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


@keras.saving.register_keras_serializable("rrgan")
class PadToMultiple(layers.Layer):
    """Edge-pad height and width (bottom / right) up to a multiple of ``multiple``, so an
    encoder-decoder with ``log2(multiple)`` stride-2 levels accepts any image size."""

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, images):
        shape = ops.shape(images)
        pad_height = (self.multiple - shape[1] % self.multiple) % self.multiple
        pad_width = (self.multiple - shape[2] % self.multiple) % self.multiple
        return edge_pad(images, pad_height, pad_width)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable("rrgan")
class PadLike(layers.Layer):
    """Edge-pad ``images`` (bottom / right) to the height and width of ``reference``: brings features
    computed on the photo to the size of the generator's padded grid."""

    def call(self, images, reference):
        shape, wanted = ops.shape(images), ops.shape(reference)
        return edge_pad(images, wanted[1] - shape[1], wanted[2] - shape[2])

    def compute_output_shape(self, images_shape, reference_shape):
        return (images_shape[0], reference_shape[1], reference_shape[2], images_shape[3])


@keras.saving.register_keras_serializable("rrgan")
class CaffeInput(layers.Layer):
    """RGB in [0, 1] -> BGR in [0, 255] minus a per-channel mean: the input of Caffe-trained VGG nets."""

    def __init__(self, mean_bgr: tuple[float, float, float], **kwargs):
        super().__init__(**kwargs)
        self.mean_bgr = tuple(mean_bgr)

    def call(self, images):
        return ops.flip(images * 255.0, axis=-1) - ops.convert_to_tensor(self.mean_bgr, dtype=images.dtype)

    def get_config(self):
        return {**super().get_config(), "mean_bgr": self.mean_bgr}


@keras.saving.register_keras_serializable("rrgan")
class CropLike(layers.Layer):
    """Crop the top-left of ``images`` to the height and width of ``reference`` (undoes PadToMultiple)."""

    def call(self, images, reference):
        shape = ops.shape(reference)
        return images[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, images_shape, reference_shape):
        return (images_shape[0], reference_shape[1], reference_shape[2], images_shape[3])


@keras.saving.register_keras_serializable("rrgan")
class ResidualBlock(layers.Layer):
    """conv-ReLU-conv plus the input, then ReLU (He et al.); dilation widens the view at no cost.

    With ``starts_as_identity`` the second conv starts at zero, so on non-negative inputs (after a
    ReLU) a new block passes them through unchanged: blocks added to a trained network keep its
    outputs until they learn something."""

    def __init__(self, filters: int, dilation: int = 1, starts_as_identity: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.dilation = dilation
        self.starts_as_identity = starts_as_identity
        self.conv1 = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, activation="relu")
        self.conv2 = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation,
                                   kernel_initializer="zeros" if starts_as_identity else "glorot_uniform")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build((*input_shape[:-1], self.filters))

    def call(self, inputs):
        return ops.relu(inputs + self.conv2(self.conv1(inputs)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dilation": self.dilation,
                "starts_as_identity": self.starts_as_identity}


@keras.saving.register_keras_serializable("rrgan")
class ConvLSTMCell(layers.Layer):
    """One step of a convolutional LSTM: gates from conv(concat(x, h)).

    i, f, o = sigmoid; g = tanh; c' = f * c + i * g; h' = o * tanh(c'). Returns (h', c').
    """

    def __init__(self, filters: int, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.gates = layers.Conv2D(4 * filters, kernel_size, padding="same")

    def build(self, x_shape, h_shape, c_shape):
        self.gates.build((*x_shape[:-1], x_shape[-1] + h_shape[-1]))

    def call(self, x, h, c):
        i, f, o, g = ops.split(self.gates(ops.concatenate([x, h], axis=-1)), 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, c

    def compute_output_shape(self, x_shape, h_shape, c_shape):
        return h_shape, c_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}
