import gc
import io
import json
import os
import struct
import subprocess
import sys
import zlib

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import random_image, random_networks, write_image
from PIL import Image

from rrgan.cli import export_main, remove_main
from rrgan.config import preset
from rrgan.errors import RRGANError
from rrgan.export import (
    ENCODED_SIGNATURE,
    LIMITS_SIGNATURE,
    SERVING_SIGNATURE,
    ServingBundle,
    export_bundle,
    find_saved_model,
    refusal,
    save_weights,
)
from rrgan.headers import encoded_size

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
    for name in (SERVING_SIGNATURE, ENCODED_SIGNATURE, LIMITS_SIGNATURE, "transmission", "reflection", "attention",
                 "edge", "transmission_png", "'max_pixels': 100000000", "'max_batch': 16"):
        assert name in cli.stdout


@pytest.mark.parametrize("tuned", [False, True])
def test_an_attention_net_fed_by_a_backbone_exports(tmp_path, tuned):
    """Its features are upsampled and cropped to the photo's unknown size inside the signature,
    from a frozen backbone beside it or the tuned one it holds."""
    import dataclasses

    from rrgan.models import build_networks

    config = dataclasses.replace(preset("tiny").model, attention_backbone="efficientnet_lite0",
                                 attention_backbone_stages=4, attention_scale=2, attention_backbone_tuned=tuned)
    networks = build_networks(config)
    projection = networks.attention_net.get_layer("features_4_projection")
    projection.set_weights([np.full(w.shape, 0.1, "float32") for w in projection.get_weights()])
    images = tf.constant(_images(37, 45, batch=1))
    reloaded = tf.saved_model.load(str(export_bundle(networks, tmp_path, "rrgan"))).signatures[SERVING_SIGNATURE]
    _assert_same(reloaded(images=images), ServingBundle(networks).serve(images))


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


def test_an_export_with_a_working_size_matches_the_python_path(tmp_path, capsys):
    """rrgan-export --working-megapixels bakes the working size into both signatures: reloaded, they give
    what rrgan-remove gives at that size; without the flag an export runs the model at full size."""
    from rrgan.inference import remove_reflections

    networks = random_networks(seed=7)
    weights = save_weights(networks, preset("tiny"), tmp_path / "weights")
    assert export_main([str(weights), "-o", str(tmp_path), "--working-megapixels", "0.005"]) == 0
    assert export_main([str(weights), "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    working, full = (tf.saved_model.load(str(tmp_path / "rrgan" / version)).signatures for version in "12")
    image = random_image(8, 90, 120)  # 10,800 pixels: the model sees 61 x 81
    plain = ServingBundle(networks).serve
    for signatures, pixels in ((working, 5000), (full, 0)):
        expected = remove_reflections(plain, image, working_pixels=pixels)
        served = signatures[SERVING_SIGNATURE](images=tf.constant(image[None]))
        assert np.abs(served["transmission"][0].numpy().astype(int) - expected["transmission"]).max() <= 1
        assert np.abs(np.round(served["attention"][0, ..., 0].numpy() * 255) - expected["map"]).max() <= 1
        encoded = signatures[ENCODED_SIGNATURE](images=tf.constant([_encoded(image, "PNG")]))["transmission_png"]
        np.testing.assert_array_equal(tf.io.decode_png(encoded[0]).numpy(), served["transmission"][0].numpy())


def test_exported_folders_are_readable_by_other_users(tmp_path):
    """A version folder gets the usual permissions (not mkdtemp's 0700), so a TF Serving user can read it."""
    umask = os.umask(0o022)
    try:
        path = export_bundle(random_networks(), tmp_path, "rrgan")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o755


# Serving limits: a small export (0.01 megapixels, batches of 2) so that "just under" is a small image.


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    root = tmp_path_factory.mktemp("limited")
    weights = save_weights(random_networks(seed=1), preset("tiny"), root / "weights")
    assert export_main([str(weights), "-o", str(root), "--name", "small", "--max-megapixels", "0.01",
                        "--max-batch", "2"]) == 0
    return root / "small" / "1"


def _encoded(image: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format)
    return buffer.getvalue()


def _refused(function, **inputs) -> str:
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        function(**inputs)
    return refusal(caught.value)


def test_limits_are_stored_in_the_saved_model(limited):
    signatures = tf.saved_model.load(str(limited)).signatures
    assert {k: int(v) for k, v in signatures[LIMITS_SIGNATURE]().items()} == {"max_pixels": 10_000, "max_batch": 2}


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF", "BMP"])
def test_encoded_images_up_to_the_limit_work_and_larger_ones_are_refused(limited, image_format):
    encode = tf.saved_model.load(str(limited)).signatures[ENCODED_SIGNATURE]
    at_limit = _encoded(random_image(0, 100, 100), image_format)  # 10000 pixels: exactly the limit
    output = encode(images=tf.constant([at_limit]))["transmission_png"].numpy()[0]
    assert tf.io.decode_png(output).shape == (100, 100, 3)
    message = _refused(encode, images=tf.constant([at_limit, _encoded(random_image(1, 101, 100), image_format)]))
    assert message == ("remove_encoded: image 1 is 100x101 pixels by its header (0.0101 megapixels); this model "
                       "takes at most 0.01 megapixels (rrgan-export --max-megapixels)")


def test_serving_default_checks_the_size_and_the_batch(limited):
    serve = tf.saved_model.load(str(limited)).signatures[SERVING_SIGNATURE]
    assert serve(images=tf.zeros([2, 100, 100, 3], tf.uint8))["transmission"].shape == (2, 100, 100, 3)
    assert "image 0 is 101x100 pixels (0.0101 megapixels)" in _refused(serve, images=tf.zeros([1, 100, 101, 3],
                                                                                                tf.uint8))
    assert _refused(serve, images=tf.zeros([3, 8, 8, 3], tf.uint8)) == (
        "serving_default: 3 images in one request; this model takes at most 2 (rrgan-export --max-batch)")
    encode = tf.saved_model.load(str(limited)).signatures[ENCODED_SIGNATURE]
    three = tf.constant([_encoded(random_image(0, 8, 8), "PNG")] * 3)
    assert "3 images in one request" in _refused(encode, images=three)


def test_other_formats_and_garbage_are_refused(exported):
    encode = tf.saved_model.load(str(exported)).signatures[ENCODED_SIGNATURE]
    webp = _encoded(random_image(0, 16, 16), "WEBP")  # tf.io.decode_image reads it, but its header is not checked
    for data in (webp, b"", b"not an image"):
        assert _refused(encode, images=tf.constant([data])) == "remove_encoded: image 0 is not JPEG, PNG, GIF or BMP"


def _gif(screen, frame) -> bytes:
    """A GIF of one frame whose header and image descriptor declare these (width, height)."""
    return (b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes([0, 0, 0, 255, 255, 255])
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, *frame, 0) + b"\x02\x02\x44\x01\x00\x3b")


def test_headers_give_the_size_every_decoder_makes():
    image = random_image(0, 37, 53)
    for image_format in ("JPEG", "PNG", "GIF", "BMP"):
        assert encoded_size(tf.constant(_encoded(image, image_format))).numpy().tolist() == [37, 53, 37 * 53]
    frames = [Image.fromarray(np.roll(image, k, axis=0)) for k in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert encoded_size(tf.constant(buffer.getvalue())).numpy().tolist() == [37, 53, 5 * 37 * 53]  # all decoded
    # TF decodes a GIF at its frames' size, whatever the screen says: the larger of both counts.
    assert encoded_size(tf.constant(_gif((16, 16), (300, 200)))).numpy().tolist() == [200, 300, 60000]
    assert encoded_size(tf.constant(_gif((300, 200), (16, 16)))).numpy().tolist() == [200, 300, 60000]


def _png_bomb(side: int) -> bytes:
    """A gray PNG of side x side zeros: 388 KB for 20000 x 20000 pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), bytes(side + 1)  # a filter byte and a row of pixels
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(_encoded(random_image(0, 8, 8), "JPEG"))
    frame = data.index(b"\xff\xc0")  # baseline start-of-frame: length, precision, height, width
    data[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _bmp_declaring(width: int, height: int) -> bytes:
    return b"BM" + struct.pack("<IHHIIiiHHIIiiII", 54, 0, 0, 54, 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)


_BOMB_CHILD = """
import json, sys, time
import tensorflow as tf
from rrgan.memory import peak_rss_gib
encode = tf.saved_model.load(sys.argv[1]).signatures["remove_encoded"]
encode(images=tf.constant([tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()]))  # a server's first request
results = {}
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    start = time.perf_counter()
    try:
        encode(images=tf.constant([data]))
        message = None
    except tf.errors.InvalidArgumentError as err:
        message = err.message
    results[path] = {"seconds": time.perf_counter() - start, "message": message}
print(json.dumps({"results": results, "peak_gib": peak_rss_gib()}))
"""


def test_images_declaring_too_many_pixels_are_refused_before_decoding(exported, tmp_path):
    """The 388 KB PNG of 20000 x 20000 pixels that took a serving process past 16.8 GB, and headers
    of the other formats declaring more than the default 100 megapixels, sent to a model exported
    with the default limits: each refused in under 2 s (after a first request, which builds the
    graph), the process's own peak under 1.5 GiB: TensorFlow with the model loaded, nothing of the
    declared size."""
    files = {"png": _png_bomb(20000), "jpeg": _jpeg_declaring(60000, 60000), "bmp": _bmp_declaring(20000, -20000),
             "gif": _gif((20000, 20000), (16, 16)), "gif_frame": _gif((16, 16), (20000, 20000))}
    assert 380_000 < len(files["png"]) < 400_000
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    child = subprocess.run([sys.executable, "-c", _BOMB_CHILD, str(exported), *(str(tmp_path / n) for n in files)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    for name in files:
        result = report["results"][str(tmp_path / name)]
        assert result["message"] is not None and "this model takes at most 100 megapixels" in result["message"], name
        assert result["seconds"] < 2.0, (name, result["seconds"])
    assert report["peak_gib"] < 1.5, report["peak_gib"]


def test_rrgan_remove_names_a_photo_the_saved_model_refuses(limited, tmp_path, capsys):
    photo = write_image(tmp_path / "photo.png", random_image(0, 120, 120))
    assert remove_main([str(photo), "-o", str(tmp_path / "out"), "--model", str(limited), "--quiet"]) == 1
    assert "this model takes at most 0.01 megapixels" in capsys.readouterr().err
