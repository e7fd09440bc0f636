import cv2
import numpy as np

from rrgan.cli import data_main
from rrgan.data.default import draw_scene, write_default_photos


def test_scenes_are_deterministic_and_varied():
    np.testing.assert_array_equal(draw_scene(5, 64), draw_scene(5, 64))
    scenes = [draw_scene(seed, 64) for seed in range(4)]
    assert all(s.shape == (64, 64, 3) and s.dtype == np.uint8 for s in scenes)
    assert all(s.std() > 10 for s in scenes)
    assert len({s.tobytes() for s in scenes}) == 4
    # sharp edges: something for the edge net to learn
    assert max(np.abs(np.diff(s.astype(int), axis=1)).max() for s in scenes) > 60


def test_write_default_photos_is_complete_and_idempotent(tmp_path):
    paths = write_default_photos(tmp_path, count=3, size=32)
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert write_default_photos(tmp_path, count=3, size=32) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamps
    assert sorted(tmp_path.iterdir()) == sorted(paths)
    assert cv2.imread(str(paths[0])).shape == (32, 32, 3)


def test_preview_writes_a_grid(tmp_path, capsys):
    output = tmp_path / "preview.png"
    assert data_main(["preview", "-o", str(output), "--rows", "3", "--set", "data.default_photos=8"]) == 0
    assert str(output) in capsys.readouterr().out
    grid = cv2.imread(str(output))
    crop = 64  # the tiny preset's crop
    assert grid.shape[0] > 3 * crop and grid.shape[1] >= 3 * crop
