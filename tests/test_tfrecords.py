import numpy as np
import pytest
import tensorflow as tf
from conftest import make_pair_folder, random_image, write_image

from rrgan.cli import data_main
from rrgan.data.images import decode_bytes, decode_rgb, read_rgb
from rrgan.data.pairs import find_pairs, find_photos
from rrgan.data.tfrecords import parse_record, shard_kind, write_pairs, write_photos
from rrgan.errors import RRGANError


def _records(shards):
    return [parse_record(s) for s in tf.data.TFRecordDataset([str(p) for p in shards])]


def test_png_pairs_round_trip_exactly(tmp_path):
    make_pair_folder(tmp_path / "set", ["a", "b", "c"], reflection_dir="reflection", size=(17, 23))
    pairs = find_pairs(tmp_path / "set").pairs
    summary = write_pairs(pairs, tmp_path / "out", "set", shard_size=2, progress=False)
    assert summary.written == 3 and not summary.skipped
    assert [p.name for p in summary.shards] == ["set-pairs-00000-of-00002.tfrecord",
                                                "set-pairs-00001-of-00002.tfrecord"]
    records = _records(summary.shards)
    assert [r["name"].numpy().decode() for r in records] == ["a", "b", "c"]
    for record, pair in zip(records, pairs):
        assert record["input"].numpy() == pair.input.read_bytes()  # stored as is, not re-encoded
        np.testing.assert_array_equal(decode_rgb(record["target"]).numpy(), read_rgb(pair.target))
        np.testing.assert_array_equal(decode_rgb(record["reflection"]).numpy(), read_rgb(pair.reflection))
        assert (int(record["height"]), int(record["width"])) == (17, 23)


def test_bad_files_are_skipped_named_and_leave_no_partial_shard(tmp_path):
    make_pair_folder(tmp_path / "set", ["good1", "empty", "text", "truncated", "sizes", "good2"], ext=".jpg")
    (tmp_path / "set" / "input" / "empty.jpg").write_bytes(b"")
    (tmp_path / "set" / "target" / "text.jpg").write_text("this is not a JPEG")
    full = (tmp_path / "set" / "input" / "truncated.jpg").read_bytes()
    (tmp_path / "set" / "input" / "truncated.jpg").write_bytes(full[: len(full) // 2])
    write_image(tmp_path / "set" / "target" / "sizes.jpg", random_image(0, 10, 10))
    summary = write_pairs(find_pairs(tmp_path / "set").pairs, tmp_path / "out", "set", progress=False)
    assert summary.written == 2
    skipped = "\n".join(summary.skipped)
    for name in ("empty.jpg", "text.jpg", "truncated.jpg", "sizes.jpg"):
        assert name in skipped
    assert len(summary.skipped) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["set-pairs-00000-of-00001.tfrecord"]
    assert [r["name"].numpy() for r in _records(summary.shards)] == [b"good1", b"good2"]


def test_photos_are_stored_as_targets(tmp_path):
    write_image(tmp_path / "photos" / "sub" / "p1.png", random_image(1))
    write_image(tmp_path / "photos" / "p0.png", random_image(0))
    summary = write_photos(find_photos(tmp_path / "photos"), tmp_path / "out", "mine", progress=False)
    assert shard_kind(summary.shards[0]) == "photos"
    records = _records(summary.shards)
    assert [r["name"].numpy() for r in records] == [b"p0", b"sub/p1"]
    assert records[0]["input"].numpy() == b""
    np.testing.assert_array_equal(decode_rgb(records[0]["target"]).numpy(), random_image(0))


def test_grayscale_rgba_and_16_bit_become_8_bit_rgb(tmp_path):
    gray = write_image(tmp_path / "gray.png", random_image(0, channels=1)[..., 0])
    rgba = write_image(tmp_path / "rgba.png", random_image(1, channels=4))
    deep = write_image(tmp_path / "deep.png", (random_image(2).astype(np.uint16) * 257))
    for path in (gray, rgba, deep):
        image = read_rgb(path)
        assert image.shape == (24, 32, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(read_rgb(gray)[..., 1], random_image(0, channels=1)[..., 0])
    np.testing.assert_array_equal(read_rgb(rgba), random_image(1, channels=4)[..., :3])
    np.testing.assert_array_equal(read_rgb(deep), random_image(2))


def test_decoding_errors_name_the_file(tmp_path):
    with pytest.raises(RRGANError, match="bad.png: empty file"):
        decode_bytes(b"", tmp_path / "bad.png")
    with pytest.raises(RRGANError, match="bad.png: not an image rrgan can read"):
        decode_bytes(b"\x89PNG garbage", tmp_path / "bad.png")


def test_convert_cli(tmp_path, capsys):
    make_pair_folder(tmp_path / "data" / "one", ["a", "b"])
    make_pair_folder(tmp_path / "data" / "two", ["c"])
    (tmp_path / "data" / "two" / "input" / "c.png").write_bytes(b"broken")
    assert data_main(["convert", str(tmp_path / "data"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "wrote 2 record(s)" in out and "skipped 1 file(s)" in out
    assert "c.png" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["one-pairs-00000-of-00001.tfrecord"]


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert data_main(["convert", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rrgan-data: error:" in err and "nowhere" in err
    assert data_main(["preview", "--set", "data.crop_size=big", "-o", str(tmp_path / "p.png")]) == 2
    assert "data.crop_size" in capsys.readouterr().err


def test_example_photo_is_shipped(tmp_path, capsys):
    assert data_main(["example", "-o", str(tmp_path / "window.jpg")]) == 0
    photo = read_rgb(tmp_path / "window.jpg")
    assert photo.shape == (400, 600, 3)
