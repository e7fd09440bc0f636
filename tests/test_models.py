import keras
import numpy as np
import pytest

from rrgan.config import preset
from rrgan.layers import ConvLSTMCell, SobelEdges
from rrgan.models import (
    build_attention_net,
    build_discriminator,
    build_edge_net,
    build_generator,
    build_networks,
)

TINY = preset("tiny").model
SIZES = [(2, 64, 64), (1, 67, 45)]


def _image(batch, height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, height, width, 3)).astype("float32")


@pytest.mark.parametrize("batch, height, width", SIZES)
def test_every_network_accepts_any_size(batch, height, width):
    networks = build_networks(TINY)
    image = _image(batch, height, width)
    outputs = networks.remove_reflection(image)
    assert outputs["transmission"].shape == (batch, height, width, 3)
    assert outputs["reflection"].shape == (batch, height, width, 3)
    assert outputs["attention_maps"].shape == (batch, height, width, TINY.attention_steps)
    assert outputs["edge"].shape == (batch, height, width, 1)
    padded = (-(-height // 4) * 4, -(-width // 4) * 4)
    assert outputs["transmission_half"].shape == (batch, padded[0] // 2, padded[1] // 2, 3)
    assert outputs["transmission_quarter"].shape == (batch, padded[0] // 4, padded[1] // 4, 3)
    scores = networks.discriminator(image)
    assert scores["score"].shape[0] == batch and scores["score"].shape[-1] == 1
    assert scores["map"].shape == scores["score"].shape


def test_untrained_generator_is_the_identity():
    image = _image(2, 40, 36)
    outputs = build_generator(TINY)([image, np.zeros_like(image[..., :1]), np.full_like(image[..., :1], 0.5)])
    np.testing.assert_allclose(np.asarray(outputs["transmission"]), image, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs["reflection"]), 0.0, atol=1e-6)


def test_attention_maps_are_probabilities_per_step():
    maps = np.asarray(build_attention_net(TINY)(_image(1, 32, 32)))
    assert maps.shape[-1] == TINY.attention_steps
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert not np.allclose(maps[..., 0], maps[..., -1])  # the recurrence changes the map between steps


@pytest.mark.parametrize("build", [build_edge_net, build_attention_net, build_generator, build_discriminator])
def test_config_round_trip(build):
    model = build(TINY)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    inputs = _image(1, 24, 20)
    if model.name == "generator":
        inputs = [inputs, inputs[..., :1], inputs[..., 1:2]]
    expected, actual = model(inputs), clone(inputs)
    if isinstance(expected, dict):
        expected, actual = expected[sorted(expected)[0]], actual[sorted(actual)[0]]
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=1e-6)


def test_widths_come_from_config():
    small = build_generator(TINY).count_params()
    wide = build_generator(preset("tiny").override(["model.generator_width=16"]).model).count_params()
    assert wide > 3 * small


def test_sobel_is_fixed_and_finds_a_step_edge():
    image = np.zeros((1, 8, 10, 3), "float32")
    image[:, :, 5:, :] = 1.0
    layer = SobelEdges()
    edges = np.asarray(layer(image))[0, :, :, 0]
    assert not layer.weights
    np.testing.assert_allclose(edges[:, 4:6], 1.0, atol=1e-2)
    np.testing.assert_allclose(edges[:, :3], 0.0, atol=1e-2)
    np.testing.assert_allclose(edges[:, 7:], 0.0, atol=1e-2)


def test_conv_lstm_cell_keeps_memory():
    cell = ConvLSTMCell(4)
    x = np.ones((1, 6, 6, 3), "float32")
    zeros = np.zeros((1, 6, 6, 4), "float32")
    h1, c1 = cell(x, zeros, zeros)
    h2, c2 = cell(x, h1, c1)
    assert h1.shape == c1.shape == (1, 6, 6, 4)
    assert np.all(np.abs(np.asarray(h1)) < 1.0)
    assert not np.allclose(np.asarray(c2), np.asarray(c1))
    assert ConvLSTMCell.from_config(cell.get_config()).filters == 4
