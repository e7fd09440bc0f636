import numpy as np
import pytest
from conftest import make_pair_folder, random_image, write_image

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets, find_pairs, find_photos
from rrgan.errors import RRGANError


@pytest.mark.parametrize("input_dir, target_dir, layout", [
    ("input", "target", "input/target"),
    ("blended", "transmission_layer", "blended/transmission_layer"),
    ("mixture", "ground_truth", "mixture/ground_truth"),
    ("I", "T", "I/T"),
])
def test_folder_layouts(tmp_path, input_dir, target_dir, layout):
    make_pair_folder(tmp_path, ["b", "a", "c"], input_dir, target_dir)
    pair_set = find_pairs(tmp_path)
    assert pair_set.layout == layout
    assert [p.name for p in pair_set.pairs] == ["a", "b", "c"]
    assert not pair_set.unmatched


def test_pairs_match_by_stem_and_report_unmatched(tmp_path):
    # Different extensions and extra files make listing order differ from stem order.
    for i, stem in enumerate(["z", "a", "m"]):
        image = random_image(i)
        write_image(tmp_path / "input" / f"{stem}.png", image)
        write_image(tmp_path / "target" / f"{stem}.{'bmp' if stem == 'a' else 'png'}", 255 - image)
    write_image(tmp_path / "input" / "only_input.png", random_image(9))
    write_image(tmp_path / "target" / "0_only_target.png", random_image(8))
    (tmp_path / "input" / "notes.txt").write_text("not an image")
    pair_set = find_pairs(tmp_path)
    assert [p.name for p in pair_set.pairs] == ["a", "m", "z"]
    for pair in pair_set.pairs:
        np.testing.assert_array_equal(read_rgb(pair.input), 255 - read_rgb(pair.target))
    # notes.txt has no partner either: named, not skipped silently for its extension
    assert sorted(p.name for p in pair_set.unmatched) == ["0_only_target.png", "notes.txt", "only_input.png"]


def test_reflection_folder_is_optional_per_pair(tmp_path):
    make_pair_folder(tmp_path, ["a", "b"], reflection_dir="reflection")
    (tmp_path / "reflection" / "b.png").unlink()
    pairs = find_pairs(tmp_path).pairs
    assert pairs[0].reflection is not None and pairs[0].reflection.stem == "a"
    assert pairs[1].reflection is None


def test_sir2_scene_folders(tmp_path):
    for i, scene in enumerate(["scene2", "scene1"]):
        write_image(tmp_path / scene / "m.jpg", random_image(i))
        write_image(tmp_path / scene / "g.jpg", random_image(i + 5))
        write_image(tmp_path / scene / "r.jpg", random_image(i + 9))
    write_image(tmp_path / "scene3" / "m.jpg", random_image(3))
    pair_set = find_pairs(tmp_path)
    assert pair_set.layout == "sir2-scenes"
    assert [p.name for p in pair_set.pairs] == ["scene1", "scene2"]
    assert pair_set.pairs[0].reflection.name == "r.jpg"
    assert [p.parent.name for p in pair_set.unmatched] == ["scene3"]


def test_empty_and_unknown_folders_are_explained(tmp_path):
    with pytest.raises(RRGANError, match="holds: nothing"):
        find_pairs(tmp_path)
    write_image(tmp_path / "photos" / "x.png", random_image(0))
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(RRGANError, match="photos/"):
        find_pairs(tmp_path)
    with pytest.raises(RRGANError, match="no such folder"):
        find_pairs(tmp_path / "missing")


def test_layout_with_no_matching_stems_is_an_error(tmp_path):
    write_image(tmp_path / "input" / "a.png", random_image(0))
    write_image(tmp_path / "target" / "b.png", random_image(1))
    with pytest.raises(RRGANError, match="a.png"):
        find_pairs(tmp_path)


def test_duplicate_stems_are_an_error(tmp_path):
    make_pair_folder(tmp_path, ["a"])
    write_image(tmp_path / "input" / "a.jpg", random_image(0))
    with pytest.raises(RRGANError, match="share the stem"):
        find_pairs(tmp_path)


def test_pair_sets_below_a_parent_folder(tmp_path):
    make_pair_folder(tmp_path / "set_one", ["a", "b"])
    make_pair_folder(tmp_path / "nested" / "set_two", ["c"], "blended", "transmission_layer")
    sets = find_pair_sets(tmp_path)
    assert [(s.root.name, len(s)) for s in sets] == [("set_two", 1), ("set_one", 2)]


def test_find_photos(tmp_path):
    write_image(tmp_path / "b" / "2.jpg", random_image(0))
    write_image(tmp_path / "1.png", random_image(1))
    (tmp_path / "x.txt").write_text("no")  # listed: the reader names it, nothing is skipped by extension
    (tmp_path / ".hidden.png").write_text("no")
    assert [p.name for p in find_photos(tmp_path)] == ["1.png", "2.jpg", "x.txt"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(RRGANError, match="no files"):
        find_photos(tmp_path / "empty")


def test_every_shared_set_is_discovered(shared_data):
    expected = {"real89": 89, "glass400": 1018, "nature20": 20, "sir2_solidobject": 200, "ceilnet_table2": 100}
    found = {s.root.name: s for s in find_pair_sets(shared_data)}
    assert {name: len(found[name]) for name in expected} == expected
    assert all(not s.unmatched for s in found.values())
    assert all(p.reflection is not None for p in found["sir2_solidobject"].pairs)
