import gc
import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_image, random_networks

from rrgan.errors import RRGANError
from rrgan.export import (
    ENCODED_SIGNATURE,
    SERVING_SIGNATURE,
    ServingBundle,
    export_bundle,
    find_saved_model,
)

# Tolerance of reloaded vs live outputs: transmission within 1 uint8 level, attention and edge within 1e-4.


@pytest.fixture(scope="module")
def networks():
    return random_networks(seed=0)


@pytest.fixture(scope="module")
def exported(networks, tmp_path_factory):
    return export_bundle(networks, tmp_path_factory.mktemp("export"), "rrgan")


def _images(height, width, batch=2):
    return np.random.default_rng(height * width).integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


def _assert_same(outputs, expected):
    assert np.abs(np.asarray(outputs["transmission"], int) - np.asarray(expected["transmission"], int)).max() <= 1
    np.testing.assert_allclose(np.asarray(outputs["attention"]), np.asarray(expected["attention"]), atol=1e-4)
    np.testing.assert_allclose(np.asarray(outputs["edge"]), np.asarray(expected["edge"]), atol=1e-4)


def test_layout_and_versions(networks, tmp_path):
    first = export_bundle(networks, tmp_path, "demo")
    second = export_bundle(networks, tmp_path, "demo")
    assert (first.name, second.name) == ("1", "2")
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["1", "2"]  # no temporary folder left
    assert find_saved_model(tmp_path / "demo") == second
    with pytest.raises(RRGANError, match="already exists"):
        export_bundle(networks, tmp_path, "demo", version=1)
    with pytest.raises(RRGANError, match="no SavedModel"):
        find_saved_model(tmp_path)


@pytest.mark.parametrize("height, width", [(17, 23), (64, 48), (300, 513)])
def test_reloaded_model_matches_live_model(networks, exported, height, width):
    images = _images(height, width, batch=1 if height > 100 else 2)
    expected = ServingBundle(networks).serve(tf.constant(images))
    reloaded = tf.saved_model.load(str(exported)).signatures[SERVING_SIGNATURE](images=tf.constant(images))
    assert reloaded["transmission"].shape == images.shape and reloaded["transmission"].dtype == tf.uint8
    assert reloaded["reflection"].dtype == tf.uint8
    assert reloaded["attention"].shape == images.shape[:3] + (1,)
    _assert_same(reloaded, expected)
    assert not np.array_equal(np.asarray(reloaded["transmission"]), images)  # not the identity
    layer = keras.layers.TFSMLayer(str(exported), call_endpoint=SERVING_SIGNATURE)
    _assert_same(layer(tf.constant(images)), expected)


def test_encoded_signature_takes_jpeg_and_png(exported):
    signature = tf.saved_model.load(str(exported)).signatures
    image = _images(31, 45, batch=1)[0]
    png = cv2.imencode(".png", image[..., ::-1])[1].tobytes()
    jpeg = cv2.imencode(".jpg", image[..., ::-1])[1].tobytes()
    outputs = signature[ENCODED_SIGNATURE](images=tf.constant([png, jpeg]))["transmission_png"].numpy()
    decoded = [tf.io.decode_png(o).numpy() for o in outputs]
    assert all(d.shape == (31, 45, 3) for d in decoded)
    direct = signature[SERVING_SIGNATURE](images=tf.constant(image[None]))["transmission"].numpy()[0]
    np.testing.assert_array_equal(decoded[0], direct)


def test_saved_model_cli_lists_the_signatures(exported):
    cli = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                          str(exported), "--all"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr[-2000:]
    for name in (SERVING_SIGNATURE, ENCODED_SIGNATURE, "transmission", "reflection", "attention", "edge",
                 "transmission_png"):
        assert name in cli.stdout


def test_bundles_work_without_being_kept_in_a_name(networks, tmp_path):
    export_bundle(networks, tmp_path, "first")
    gc.collect()
    images = tf.constant(_images(20, 24, batch=1))
    first = ServingBundle(networks).serve(images)["transmission"].numpy()
    gc.collect()
    np.testing.assert_array_equal(ServingBundle(networks).serve(images)["transmission"].numpy(), first)


def test_signature_tiles_inside_the_graph_like_the_python_path(tmp_path):
    from rrgan.inference import remove_reflections

    networks = random_networks(seed=3)
    path = export_bundle(networks, tmp_path, "rrgan", tile=64, overlap=16)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    image = random_image(4, 150, 170)  # 3 x 3 tiles
    served = signature(images=tf.constant(image[None]))
    assert served["attention"].shape == (1, 150, 170, 1) and served["edge"].shape == (1, 150, 170, 1)
    untiled = ServingBundle(networks, tile=4096, overlap=16).serve
    python_tiled = remove_reflections(untiled, image, tile=64, overlap=16)
    difference = np.abs(served["transmission"].numpy()[0].astype(int) - python_tiled["transmission"].astype(int))
    assert difference.max() <= 1
    served_map = np.round(served["attention"].numpy()[0, ..., 0] * 255.0)
    assert np.abs(served_map - python_tiled["map"].astype(int)).max() <= 1
    whole = untiled(tf.constant(image[None]))["transmission"].numpy()[0]
    assert np.abs(served["transmission"].numpy()[0].astype(int) - whole.astype(int)).max() > 1  # it did tile


def test_exported_folders_are_readable_by_other_users(tmp_path):
    """A version folder gets the usual permissions (not mkdtemp's 0700), so a TF Serving user can read it."""
    umask = os.umask(0o022)
    try:
        path = export_bundle(random_networks(), tmp_path, "rrgan")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o755
