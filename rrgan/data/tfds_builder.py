"""A TFDS builder for local pair folders, so tensorflow-datasets users can ``tfds.load`` their pairs.

Put the pairs in ``manual_dir`` (any layout ``rrgan.data.pairs`` knows). Sub-folders named
``train``, ``validation``/``val`` or ``test`` become splits; otherwise everything is ``train``::

    builder = ReflectionPairs(data_dir="~/tensorflow_datasets")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir="/data/my_pairs"))
    dataset = builder.as_dataset(split="train")
"""

from __future__ import annotations

from pathlib import Path

import tensorflow_datasets as tfds

from rrgan.data.images import read_rgb
from rrgan.data.pairs import find_pair_sets

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


class ReflectionPairs(tfds.core.GeneratorBasedBuilder):
    """Photos taken through glass (``input``) with their reflection-free transmission (``target``)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: local pair folders through manual_dir."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Place image pairs in manual_dir, in any layout rrgan knows (input/ + target/, "
        "blended/ + transmission_layer/, I/ + T/, or SIR^2 scene folders with m.* and g.*). "
        "Sub-folders train/, val/ (or validation/) and test/ become splits.")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "input": tfds.features.Image(shape=(None, None, 3)),
                "target": tfds.features.Image(shape=(None, None, 3)),
                "name": tfds.features.Text(),
            }),
            supervised_keys=("input", "target"),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = Path(dl_manager.manual_dir)
        split_roots = {}
        for folder, split in SPLIT_FOLDERS.items():
            if (root / folder).is_dir():
                split_roots.setdefault(split, []).append(root / folder)
        if not split_roots:
            split_roots = {"train": [root]}
        return {split: self._generate_examples(folders) for split, folders in split_roots.items()}

    def _generate_examples(self, folders):
        for folder in folders:
            for pair_set in find_pair_sets(folder):
                for pair in pair_set.pairs:
                    key = f"{pair_set.root.name}/{pair.name}"
                    yield key, {"input": read_rgb(pair.input), "target": read_rgb(pair.target), "name": key}

