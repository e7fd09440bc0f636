import numpy as np
import pytest
from PIL import Image

from rrgan.data.images import read_rgb
from rrgan.errors import RRGANError
from rrgan.models.efficientnet_lite import VARIANTS, build_efficientnet_lite, feature_channels

# Parameters without BatchNorm's moving statistics, as the EfficientNet-Lite reproductions count them.
PUBLISHED_PARAMETERS = {"lite0": 4_652_008, "lite1": 5_416_680, "lite2": 6_092_072, "lite3": 8_197_096,
                        "lite4": 13_006_568}


def _center_crop(path, side: int = 224, crop_fraction: float = 224 / 256) -> np.ndarray:
    """The evaluation crop the weights were trained for: the central square of 224/256 of the short
    side, resized to ``side`` (bicubic); RGB in [0, 1]."""
    image = Image.fromarray(read_rgb(path))
    width, height = image.size
    crop = min(width, height) * crop_fraction
    left, top = (width - crop) / 2, (height - crop) / 2
    box = (left, top, left + crop, top + crop)
    return np.asarray(image.resize((side, side), Image.BICUBIC, box=box), np.float32) / 255.0


def test_packaged_weights_classify_imagenet(shared_data):
    """The conversion is right: top-1 on one ImageNet photo per class (1000; published top-1 on the
    validation set: 75%). File names start with the class's WordNet id; the class index is its
    position among the sorted ids."""
    photos = sorted((shared_data / "photos" / "imagenet_sample").iterdir())
    wordnet_ids = sorted({photo.name.split("_")[0] for photo in photos})
    assert len(wordnet_ids) == 1000
    labels = np.array([wordnet_ids.index(photo.name.split("_")[0]) for photo in photos])
    model = build_efficientnet_lite(classifier=True)
    predictions = np.concatenate([
        np.argmax(model.predict_on_batch(np.stack([_center_crop(photo) for photo in photos[start:start + 100]])), -1)
        for start in range(0, len(photos), 100)])
    accuracy = float(np.mean(predictions == labels))
    print(f"EfficientNet-Lite0 top-1 on imagenet_sample: {accuracy:.3f}")
    assert accuracy >= 0.70


def test_features_at_their_strides_frozen_and_pretrained():
    features = build_efficientnet_lite(feature_stages=4)
    assert not features.trainable_weights
    outputs = features(np.random.default_rng(0).uniform(0, 1, (2, 37, 29, 3)).astype("float32"))
    assert [tuple(output.shape) for output in outputs] == [
        (2, -(-37 // 2 ** level), -(-29 // 2 ** level), channels)
        for level, channels in zip(range(1, 5), feature_channels("lite0"))]
    classifier = build_efficientnet_lite(classifier=True)
    np.testing.assert_array_equal(features.get_layer("block8_project_conv").get_weights()[0],
                                  classifier.get_layer("block8_project_conv").get_weights()[0])
    assert np.std(features.get_layer("stem_conv").get_weights()[0]) > 0.1  # loaded, not initialised


def test_fewer_feature_stages_stop_the_network_early():
    two = build_efficientnet_lite(feature_stages=2)
    assert len(two.outputs) == 2
    assert two.count_params() < build_efficientnet_lite(feature_stages=3).count_params()
    assert build_efficientnet_lite(feature_stages=1, trainable=True).trainable_weights


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_layouts_have_the_published_sizes(variant):
    model = build_efficientnet_lite(variant, classifier=True, pretrained=False)
    assert sum(int(np.prod(weight.shape)) for weight in model.weights
               if "moving" not in weight.path) == PUBLISHED_PARAMETERS[variant]


def test_variants_without_packaged_weights_say_so():
    with pytest.raises(RRGANError, match="no ImageNet weights"):
        build_efficientnet_lite("lite1")
    with pytest.raises(RRGANError, match="feature stages"):
        build_efficientnet_lite(feature_stages=5, pretrained=False)
