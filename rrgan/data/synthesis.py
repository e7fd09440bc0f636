"""Reflection synthesis in TensorFlow ops: blend a blurred photo onto a clean one (docs/method.md).

Every function is graph-safe (usable inside ``tf.data.Dataset.map``) and stateless: randomness
comes from an explicit ``seed`` of shape [2], so the same seed gives the same pair on any run.

Images are float32 in [0, 1], shape [H, W, 3]. Each recipe returns ``(I, T, R)`` where T is the
transmission as it appears in I (after the recipe's attenuation) and R the reflection layer that
was blended in; with a black reflection source, I equals T.
"""

from __future__ import annotations

import tensorflow as tf

from rrgan.config import SynthesisConfig

GAMMA = 2.2


def _uniform(seed, bounds, shape=()):
    low, high = bounds
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high)


def gaussian_blur(image: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian blur of an [H, W, C] image with reflect padding; ``sigma`` may be a tensor."""
    sigma = tf.cast(sigma, tf.float32)
    shape = tf.shape(image)
    radius = tf.minimum(tf.cast(tf.math.ceil(3.0 * sigma), tf.int32), tf.minimum(shape[0], shape[1]) - 1)
    radius = tf.maximum(radius, 0)
    x = tf.cast(tf.range(-radius, radius + 1), tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / sigma))
    kernel = kernel / tf.reduce_sum(kernel)
    channels = shape[2]
    padded = tf.pad(image[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, vertical, strides=[1, 1, 1, 1], padding="VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, horizontal, strides=[1, 1, 1, 1], padding="VALID")
    return blurred[0]


def _overflow_mean(blend: tf.Tensor, axis=None) -> tf.Tensor:
    """Mean of the values above 1 (1 where there are none); per channel when ``axis`` is (0, 1)."""
    over = tf.cast(blend > 1.0, blend.dtype)
    total = tf.reduce_sum(blend * over, axis=axis)
    count = tf.reduce_sum(over, axis=axis)
    return tf.maximum(1.0, tf.math.divide_no_nan(total, count) + (1.0 - tf.sign(count)))


def _vignette(shape: tf.Tensor, seed) -> tf.Tensor:
    """A Gaussian falloff centred at a random point, max 1: reflections fade towards one side."""
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    centre = _uniform(seeds[0], (0.0, 1.0), shape=[2]) * tf.stack([height, width])
    spread = _uniform(seeds[1], (0.5, 1.0)) * tf.maximum(height, width)
    ys = tf.range(height)[:, tf.newaxis] - centre[0]
    xs = tf.range(width)[tf.newaxis, :] - centre[1]
    return tf.exp(-(tf.square(ys) + tf.square(xs)) / (2.0 * tf.square(spread)))[..., tf.newaxis]


def zhang2018(transmission, reflection, seed, config: SynthesisConfig):
    """Zhang et al. 2018: linear light, blurred reflection, per-channel overflow fix, vignette, alpha*T."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    t_linear = tf.pow(transmission, GAMMA)
    r_linear = tf.pow(reflection, GAMMA)
    r_blur = gaussian_blur(r_linear, _uniform(seeds[0], config.zhang_sigma))
    attenuation = _uniform(seeds[1], (1.08, 1.18))
    r_blur = r_blur - (_overflow_mean(r_blur + t_linear, axis=(0, 1)) - 1.0) * attenuation
    r_layer = tf.clip_by_value(r_blur, 0.0, 1.0) * _vignette(tf.shape(transmission), seeds[2])
    t_layer = _uniform(seeds[3], config.zhang_alpha) * t_linear
    blend = tf.clip_by_value(t_layer + r_layer, 0.0, 1.0)
    inverse = 1.0 / GAMMA
    return tf.pow(blend, inverse), tf.pow(t_layer, inverse), tf.pow(r_layer, inverse)


def _additive_with_overflow_fix(transmission, r_blur, gain):
    """CEILNet / ERRNet: where T + R overflows, darken R by gain * (mean overflow - 1), then clip."""
    shift = gain * (_overflow_mean(transmission + r_blur) - 1.0)
    r_layer = tf.clip_by_value(r_blur - shift, 0.0, 1.0)
    return tf.clip_by_value(transmission + r_layer, 0.0, 1.0), r_layer


def ceilnet(transmission, reflection, seed, config: SynthesisConfig):
    """CEILNet / ERRNet: I = clip(T + R_blur) with the overflow fix."""
    r_blur = gaussian_blur(reflection, _uniform(seed, config.ceilnet_sigma))
    blend, r_layer = _additive_with_overflow_fix(transmission, r_blur, config.ceilnet_overflow_gain)
    return blend, transmission, r_layer


def dsrnet(transmission, reflection, seed, config: SynthesisConfig):
    """DSRNet / RDNet: scaled T and R; a screen blend with probability p, else additive with the fix."""
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    t_layer = _uniform(seeds[0], config.dsrnet_transmission_scale) * transmission
    r_blur = _uniform(seeds[1], config.dsrnet_reflection_scale) * gaussian_blur(
        reflection, _uniform(seeds[2], config.dsrnet_sigma))
    use_screen = _uniform(seeds[3], (0.0, 1.0)) < config.dsrnet_screen_probability

    def screen():
        return tf.clip_by_value(t_layer + r_blur - t_layer * r_blur, 0.0, 1.0), r_blur

    def additive():
        return _additive_with_overflow_fix(t_layer, r_blur, config.ceilnet_overflow_gain)

    blend, r_layer = tf.cond(use_screen, screen, additive)
    return blend, t_layer, r_layer


RECIPES = {"zhang": zhang2018, "ceilnet": ceilnet, "dsrnet": dsrnet}  # keys: config.SYNTHESIS_RECIPES


def synthesize(transmission: tf.Tensor, reflection: tf.Tensor, seed: tf.Tensor, config: SynthesisConfig):
    """Blend ``reflection`` onto ``transmission`` (same shape) with one of ``config.recipes``.

    Returns (I, T, R), float32 in [0, 1].
    """
    pick_seed, recipe_seed, strength_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    transmission = tf.convert_to_tensor(transmission, tf.float32)
    reflection = tf.convert_to_tensor(reflection, tf.float32) * _uniform(strength_seed, config.reflection_strength)
    branches = [
        (lambda fn=RECIPES[name]: fn(transmission, reflection, recipe_seed, config))
        for name in config.recipes
    ]
    if len(branches) == 1:
        outputs = branches[0]()
    else:
        index = tf.random.stateless_uniform([], seed=pick_seed, minval=0, maxval=len(branches), dtype=tf.int32)
        outputs = tf.switch_case(index, branches)
    return tuple(tf.ensure_shape(tf.clip_by_value(x, 0.0, 1.0), transmission.shape) for x in outputs)

