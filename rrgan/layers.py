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
class GlobalSpread(layers.Layer):
    """[B, H, W, C] -> [B, C]: each channel's standard deviation over the image (beside its mean, how
    unevenly a feature is laid over it)."""

    def call(self, features):
        return ops.std(features, axis=(1, 2))

    def compute_output_shape(self, features_shape):
        return (features_shape[0], features_shape[3])


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


@keras.saving.register_keras_serializable("rrgan")
class PixelShuffle(layers.Layer):
    """[B, H, W, r*r*C] -> [B, r*H, r*W, C] (``depth_to_space``): upsampling in which every output
    pixel has its own weights, so it leaves none of a strided transposed conv's checkerboard."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        r = self.factor
        shape = ops.shape(x)
        channels = x.shape[-1] // (r * r)
        x = ops.reshape(x, (shape[0], shape[1], shape[2], r, r, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (shape[0], shape[1] * r, shape[2] * r, channels))

    def compute_output_shape(self, input_shape):
        r = self.factor
        batch, height, width, channels = input_shape
        scaled = [None if side is None else side * r for side in (height, width)]
        return (batch, *scaled, channels // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable("rrgan")
class BilinearUpsampling(layers.Layer):
    """[B, H, W, C] -> [B, f*H, f*W, C], bilinear with half-pixel centres and clamped edges: what
    ``UpSampling2D(f, interpolation="bilinear")`` computes, written with slices so that it also
    traces where the height and width are unknown (a SavedModel's signature), which Keras's
    resize refuses."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        x = self._upsample_rows(x)
        return ops.transpose(self._upsample_rows(ops.transpose(x, (0, 2, 1, 3))), (0, 2, 1, 3))

    def _upsample_rows(self, x):
        above = ops.concatenate([x[:, :1], x[:, :-1]], axis=1)
        below = ops.concatenate([x[:, 1:], x[:, -1:]], axis=1)
        phases = []
        for phase in range(self.factor):
            offset = (2 * phase + 1 - self.factor) / (2 * self.factor)  # source row minus this row
            neighbour = above if offset < 0 else below
            phases.append(x + abs(offset) * (neighbour - x))
        shape = ops.shape(x)
        return ops.reshape(ops.stack(phases, axis=2), (shape[0], shape[1] * self.factor, shape[2], x.shape[-1]))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scaled = [None if side is None else side * self.factor for side in (height, width)]
        return (batch, *scaled, channels)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable("rrgan")
class NAFBlock(layers.Layer):
    """The block of NAFNet (Chen et al., ECCV 2022), nonlinear-activation-free:

        x + beta  * conv1x1(SCA(SimpleGate(dwconv3x3(conv1x1(LN(x))))))
          + gamma * conv1x1(SimpleGate(conv1x1(LN(x))))   (on the first sum)

    LN normalizes each pixel over its channels; SimpleGate multiplies the two halves of the
    channels (the only nonlinearity); SCA scales the channels by conv1x1 of their global mean.
    beta and gamma start at zero, so every block starts as the identity and a deep stack trains
    from the first step like a shallow one."""

    def __init__(self, filters: int, expansion: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.expansion = expansion
        hidden = filters * expansion
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.expand = layers.Conv2D(hidden, 1)
        self.depthwise = layers.DepthwiseConv2D(3, padding="same")
        self.channel_attention = layers.Conv2D(hidden // 2, 1)
        self.project = layers.Conv2D(filters, 1)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.ffn_expand = layers.Conv2D(hidden, 1)
        self.ffn_project = layers.Conv2D(filters, 1)

    def build(self, input_shape):
        hidden = self.filters * self.expansion
        inner = (*input_shape[:-1], hidden)
        gated = (*input_shape[:-1], hidden // 2)
        self.norm1.build(input_shape)
        self.expand.build(input_shape)
        self.depthwise.build(inner)
        self.channel_attention.build((input_shape[0], 1, 1, hidden // 2))
        self.project.build(gated)
        self.norm2.build(input_shape)
        self.ffn_expand.build(input_shape)
        self.ffn_project.build(gated)
        self.beta = self.add_weight(shape=(self.filters,), initializer="zeros", name="beta")
        self.gamma = self.add_weight(shape=(self.filters,), initializer="zeros", name="gamma")

    @staticmethod
    def _simple_gate(x):
        first, second = ops.split(x, 2, axis=-1)
        return first * second

    def call(self, inputs):
        x = self._simple_gate(self.depthwise(self.expand(self.norm1(inputs))))
        x = x * self.channel_attention(ops.mean(x, axis=(1, 2), keepdims=True))
        y = inputs + ops.cast(self.beta, inputs.dtype) * self.project(x)
        x = self.ffn_project(self._simple_gate(self.ffn_expand(self.norm2(y))))
        return y + ops.cast(self.gamma, inputs.dtype) * x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "expansion": self.expansion}
