from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import write_vgg19_npz

from rrgan import losses
from rrgan.errors import RRGANError
from rrgan.layers import PadToMultiple
from rrgan.models.vgg19 import VGG19_WEIGHTS_VARIABLE, load_vgg19_npz

rng = np.random.default_rng(0)


def _image(height=32, width=32, batch=2):
    return rng.uniform(0, 1, (batch, height, width, 3)).astype("float32")


def _f(x):
    return float(np.asarray(x))


def test_identical_images_give_zero():
    target = _image()
    outputs = {"transmission": target,
               "transmission_half": np.asarray(losses.ops.image.resize(target, (16, 16), interpolation="area")),
               "transmission_quarter": np.asarray(losses.ops.image.resize(target, (8, 8), interpolation="area"))}
    assert _f(losses.pixel_loss(target, target)) == 0.0
    assert _f(losses.pixel_loss(target, target, "mse")) == 0.0
    assert _f(losses.multiscale_loss(outputs, target)) == pytest.approx(0.0, abs=1e-10)
    assert _f(losses.gradient_loss(target, target)) == 0.0
    assert _f(losses.edge_loss(losses.sobel_edges(target), target)) == pytest.approx(0.0, abs=1e-10)
    other = _image()
    assert _f(losses.pixel_loss(other, target)) > 0.1
    assert _f(losses.gradient_loss(other, target)) > 0.1


def test_psnr_pixel_loss_is_minus_the_mean_psnr_and_weighs_near_exact_images_more():
    import tensorflow as tf

    target = np.full((2, 8, 8, 3), 0.5, "float32")
    errors = np.array([0.1, 0.01], "float32")[:, None, None, None]  # PSNR 20 dB and 40 dB
    assert _f(losses.pixel_loss(target + errors, target, "psnr")) == pytest.approx(-30.0, abs=1e-3)
    assert _f(losses.pixel_loss(target, target, "psnr")) == pytest.approx(-80.0, abs=1e-3)  # the floor

    def gradient_per_image(norm):
        prediction = tf.Variable(target + errors)
        with tf.GradientTape() as tape:
            loss = losses.pixel_loss(prediction, tf.constant(target), norm)
        return np.abs(tape.gradient(loss, prediction).numpy()).mean(axis=(1, 2, 3))

    far, near = gradient_per_image("psnr")
    assert near == pytest.approx(10 * far, rel=1e-3)  # the image that is nearly right is pulled hardest
    far, near = gradient_per_image("mse")
    assert near == pytest.approx(far / 10, rel=1e-3)  # MSE pulls it ten times less


def test_psnr_level_loss_sees_only_the_level_and_stops_at_50_db():
    target = _image(16, 16)
    checkerboard = np.indices((16, 16)).sum(0) % 2 * 0.2 - 0.1  # detail that 4x4 means cancel
    detail = target + checkerboard[None, :, :, None].astype("float32")
    assert _f(losses.level_loss(detail, target, "psnr")) == pytest.approx(-50.0, abs=1e-3)  # the floor
    veils = np.array([0.1, 0.01], "float32")[:, None, None, None]
    expected = np.mean(10 * np.log10(veils.ravel() ** 2 + 1e-5))
    assert _f(losses.level_loss(target + veils, target, "psnr")) == pytest.approx(expected, abs=1e-3)
    assert _f(losses.level_loss(target + veils, target)) == pytest.approx(np.mean(veils ** 2), rel=1e-4)


def test_multiscale_loss_scales_the_target_as_the_generator_scales_the_photo():
    # 36 x 44 is no multiple of the generator's 8: its scaled outputs are of the edge-padded photo
    # (40 x 48), so an output that keeps the photo at every scale must cost nothing.
    photo = _image(36, 44)
    padded = PadToMultiple(8)(photo)
    outputs = {"transmission": photo,
               "transmission_half": np.asarray(keras.layers.AveragePooling2D(2)(padded)),
               "transmission_quarter": np.asarray(keras.layers.AveragePooling2D(4)(padded))}
    assert _f(losses.multiscale_loss(outputs, photo)) == pytest.approx(0.0, abs=1e-10)


def test_multiscale_weights_small_scales_less():
    target = np.zeros((1, 16, 16, 3), "float32")
    wrong_full = {"transmission": target + 0.1, "transmission_half": np.zeros((1, 8, 8, 3), "float32"),
                  "transmission_quarter": np.zeros((1, 4, 4, 3), "float32")}
    wrong_quarter = {"transmission": target, "transmission_half": np.zeros((1, 8, 8, 3), "float32"),
                     "transmission_quarter": np.zeros((1, 4, 4, 3), "float32") + 0.1}
    assert _f(losses.multiscale_loss(wrong_full, target)) == pytest.approx(0.01, rel=1e-4)
    assert _f(losses.multiscale_loss(wrong_quarter, target)) == pytest.approx(0.006, rel=1e-4)


def _stripes(columns, size=32):
    image = np.zeros((1, size, size, 3), "float32")
    for column in columns:
        image[:, :, column, :] = 1.0
    return image


def test_exclusion_is_lower_for_layers_that_share_no_edges():
    transmission = _stripes(range(2, 14, 4))
    disjoint = np.transpose(_stripes(range(18, 30, 4)), (0, 2, 1, 3))  # horizontal stripes, bottom half
    shared = 0.5 * transmission
    assert _f(losses.exclusion_loss(transmission, disjoint)) < 0.5 * _f(losses.exclusion_loss(transmission, shared))
    assert _f(losses.exclusion_loss(transmission, np.zeros_like(transmission))) == pytest.approx(0.0, abs=1e-2)


def test_detail_loss_ignores_the_level_and_sees_shapes():
    target = _image(48, 48)
    level = target + 0.1 + 0.2 * np.linspace(0, 1, 48)[None, None, :, None].astype("float32")  # offset, ramp
    shapes = target + 0.3 * _stripes(range(8, 40, 8), size=48)
    assert _f(losses.detail_loss(target, target)) == 0.0
    assert _f(losses.detail_loss(target + 0.2, target)) == pytest.approx(0.0, abs=1e-6)
    assert _f(losses.detail_loss(level, target)) < 0.1 * _f(losses.pixel_loss(level, target))
    assert _f(losses.detail_loss(shapes, target)) > 0.5 * _f(losses.pixel_loss(shapes, target))


def test_attention_loss_weights_later_steps_more():
    mask = np.zeros((1, 8, 8, 1), "float32")
    right, wrong = mask, mask + 0.1
    last_wrong = np.concatenate([right, wrong], axis=-1)
    first_wrong = np.concatenate([wrong, right], axis=-1)
    assert _f(losses.attention_loss(last_wrong, mask, theta=0.8)) == pytest.approx(0.01, rel=1e-4)
    assert _f(losses.attention_loss(first_wrong, mask, theta=0.8)) == pytest.approx(0.008, rel=1e-4)


def test_reflection_mask_marks_regions_and_drops_specks():
    target = np.full((1, 20, 20, 3), 0.3, "float32")
    image = target.copy()
    image[:, 5:15, 5:15, :] += 0.4   # a reflection
    image[:, 2, 17, :] += 0.4        # one noisy pixel
    mask = np.asarray(losses.reflection_mask(image, target))[0, :, :, 0]
    assert mask[6:14, 6:14].all()
    assert mask[2, 17] == 0 and mask[0:4, 0:4].sum() == 0


def test_a_level_free_mask_leaves_out_the_exposure_difference_of_a_darker_target():
    rng = np.random.default_rng(0)
    scene = rng.uniform(0.5, 0.9, (1, 24, 24, 3)).astype("float32")
    image = scene.copy()
    image[:, 8:16, 8:16, :] += 0.3  # a reflection
    target = 0.8 * scene  # the target shot darker, as real pairs' are
    plain = np.asarray(losses.reflection_mask(image, target))[0, :, :, 0]
    level_free = np.asarray(losses.reflection_mask(image, target, level_free=True))[0, :, :, 0]
    assert plain.mean() > 0.9  # the exposure marks every pixel
    assert level_free[9:15, 9:15].all() and level_free[:6, :6].sum() == 0  # only the reflection


@pytest.mark.parametrize("kind", ["nsgan", "rasgan"])
def test_adversarial_losses_point_the_right_way(kind):
    confident = np.full((2, 4, 4, 1), 3.0, "float32")
    fooled = -confident
    d_good = losses.discriminator_adversarial_loss(confident, fooled, kind)
    d_bad = losses.discriminator_adversarial_loss(fooled, confident, kind)
    assert _f(d_good) < _f(d_bad)
    g_losing = losses.generator_adversarial_loss(confident, fooled, kind)
    g_winning = losses.generator_adversarial_loss(fooled, confident, kind)
    assert _f(g_winning) < _f(g_losing)


def test_discriminator_map_targets_attention_for_fakes_and_zero_for_reals():
    attention = np.ones((1, 16, 16, 1), "float32")
    perfect = losses.discriminator_map_loss(np.zeros((1, 4, 4, 1), "float32"), np.ones((1, 4, 4, 1), "float32"),
                                            attention)
    assert _f(perfect) == pytest.approx(0.0, abs=1e-7)
    assert _f(losses.discriminator_map_loss(np.ones((1, 4, 4, 1), "float32"), np.zeros((1, 4, 4, 1), "float32"),
                                            attention)) == pytest.approx(2.0)


def test_perceptual_needs_real_weights(tmp_path):
    with pytest.raises(RRGANError, match="perceptual"):
        losses.build_perceptual_features(str(tmp_path / "missing.weights.h5"))


def test_perceptual_from_a_local_weights_file(tmp_path):
    import keras

    weights = tmp_path / "vgg19_notop.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None).save_weights(str(weights))
    features = losses.build_perceptual_features(str(weights))
    target = _image(32, 32, 1)
    assert _f(losses.perceptual_loss(features, target, target)) == pytest.approx(0.0, abs=1e-6)
    assert _f(losses.perceptual_loss(features, _image(32, 32, 1), target)) > 0.0
    assert not features.trainable_weights


@pytest.mark.parametrize("weights", ["hed", "efficientnet_lite0"])
def test_perceptual_from_packaged_weights_needs_no_download(weights):
    features = losses.build_perceptual_features(weights)
    assert len(features.outputs) == losses.PACKAGED_PERCEPTUAL_STAGES[weights]
    target = _image(32, 32, 1)
    assert _f(losses.perceptual_loss(features, target, target)) == pytest.approx(0.0, abs=1e-6)
    assert _f(losses.perceptual_loss(features, _image(32, 32, 1), target)) > 0.0
    assert not features.trainable_weights


def test_vgg19_weights_from_a_npz_named_by_the_environment(tmp_path, monkeypatch):
    import keras

    arrays = write_vgg19_npz(tmp_path / "vgg19.npz")
    monkeypatch.setenv(VGG19_WEIGHTS_VARIABLE, str(tmp_path / "vgg19.npz"))
    features = losses.build_perceptual_features("vgg19")
    vgg = next(layer for layer in features.layers if isinstance(layer, keras.Model))
    kernel, bias = vgg.get_layer("block1_conv2").get_weights()
    np.testing.assert_array_equal(kernel, arrays["block1_conv2/kernel"])
    np.testing.assert_array_equal(bias, arrays["block1_conv2/bias"])
    dequantized = arrays["block5_conv2/kernel_uint8"] * arrays["block5_conv2/kernel_scale"] + arrays[
        "block5_conv2/kernel_min"]
    np.testing.assert_allclose(vgg.get_layer("block5_conv2").get_weights()[0], dequantized, rtol=1e-6, atol=1e-7)
    target = _image(32, 32, 1)
    assert _f(losses.perceptual_loss(features, target, target)) == pytest.approx(0.0, abs=1e-6)
    assert _f(losses.perceptual_loss(features, _image(32, 32, 1), target)) > 0.0


def test_vgg19_npz_missing_a_layer_is_named(tmp_path):
    arrays = write_vgg19_npz(tmp_path / "full.npz")
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if not k.startswith("block3_conv4")})
    with pytest.raises(RRGANError, match="block3_conv4"):
        losses.build_perceptual_features(str(tmp_path / "partial.npz"))


def test_imagenet_vgg19_of_shared_weights_loads_every_conv_layer():
    """The file of ../shared/weights (the project's training copy of Keras's ImageNet VGG19) fills
    all 16 conv layers; its float blocks exactly, its uint8 blocks within half a quantization step."""
    import keras

    path = Path(__file__).resolve().parents[1] / ".." / "shared" / "weights" / "vgg19_imagenet_conv.npz"
    if not path.is_file():
        pytest.skip("../shared/weights is not present")
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    load_vgg19_npz(vgg, path)
    stored = np.load(path)
    convs = [layer for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 16
    for layer in convs:
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(bias, stored[f"{layer.name}/bias"])
        if f"{layer.name}/kernel" in stored:
            np.testing.assert_array_equal(kernel, stored[f"{layer.name}/kernel"])
        else:
            step = float(stored[f"{layer.name}/kernel_scale"])
            assert np.abs(kernel - stored[f"{layer.name}/kernel_min"]).max() <= 255 * step + step / 2
