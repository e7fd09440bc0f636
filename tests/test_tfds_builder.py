import numpy as np
import tensorflow_datasets as tfds
from conftest import make_pair_folder, random_image

from rrgan.data.tfds_builder import ReflectionPairs


def test_builder_makes_splits_from_manual_dir(tmp_path):
    make_pair_folder(tmp_path / "manual" / "train", ["a", "b", "c"])
    make_pair_folder(tmp_path / "manual" / "val", ["d"], "blended", "transmission_layer")
    builder = ReflectionPairs(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "manual")))
    assert builder.info.splits["train"].num_examples == 3
    assert builder.info.splits["validation"].num_examples == 1
    examples = sorted(builder.as_dataset(split="train").as_numpy_iterator(), key=lambda e: e["name"])
    assert examples[0]["name"] == b"train/a"
    np.testing.assert_array_equal(examples[0]["input"], random_image(0))
    np.testing.assert_array_equal(examples[0]["target"], 255 - random_image(0))
    inputs, targets = next(iter(builder.as_dataset(split="validation", as_supervised=True)))
    assert inputs.shape == targets.shape == (24, 32, 3)
