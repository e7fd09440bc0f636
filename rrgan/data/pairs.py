"""Find (input, target[, reflection]) image triples in the folder layouts that users have.

Pairs are matched by file stem after sorting, never by listing order (the seed implementation's
mismatched-pairs bug). Files that have no partner are reported by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rrgan.errors import RRGANError

# (layout name, input folder, target folder, reflection folder): the conventions of docs/method.md (Data).
FOLDER_LAYOUTS = (
    ("input/target", "input", "target", "reflection"),
    ("blended/transmission_layer", "blended", "transmission_layer", "reflection_layer"),
    ("mixture/ground_truth", "mixture", "ground_truth", "reflection"),
    ("I/T", "I", "T", "R"),
)
SIR2_STEMS = ("m", "g", "r")  # mixture, ground truth (transmission), reflection, one scene per folder


@dataclass(frozen=True)
class ImagePair:
    """One training or evaluation example on disk; ``reflection`` is None where the set has none."""

    name: str
    input: Path
    target: Path
    reflection: Path | None = None


@dataclass(frozen=True)
class PairSet:
    """The pairs of one folder, its layout, and the files that found no partner."""

    root: Path
    layout: str
    pairs: tuple[ImagePair, ...]
    unmatched: tuple[Path, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.pairs)


def is_image(path: Path) -> bool:
    """Every visible file counts: one that no reader opens is named when it is read, never skipped
    silently for its extension."""
    return path.is_file() and not path.name.startswith(".")


def _images_by_stem(folder: Path) -> dict[str, Path]:
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not is_image(path):
            continue
        if path.stem in by_stem:
            raise RRGANError(f"{folder}: two images share the stem {path.stem!r} "
                             f"({by_stem[path.stem].name}, {path.name}); pairs are matched by stem")
        by_stem[path.stem] = path
    return by_stem


def _match_folders(root: Path, layout: str, input_dir: str, target_dir: str, reflection_dir: str) -> PairSet:
    inputs = _images_by_stem(root / input_dir)
    targets = _images_by_stem(root / target_dir)
    reflections = _images_by_stem(root / reflection_dir) if (root / reflection_dir).is_dir() else {}
    stems = sorted(set(inputs) & set(targets))
    unmatched = sorted([inputs[s] for s in set(inputs) - set(targets)]
                       + [targets[s] for s in set(targets) - set(inputs)]
                       + [reflections[s] for s in set(reflections) - set(stems)])
    pairs = tuple(ImagePair(s, inputs[s], targets[s], reflections.get(s)) for s in stems)
    return PairSet(root, layout, pairs, tuple(unmatched))


def _match_sir2_scenes(root: Path) -> PairSet | None:
    """SIR^2 style: one folder per scene holding m.* (mixture), g.* (ground truth), r.* (reflection)."""
    scenes = [d for d in sorted(root.iterdir()) if d.is_dir()]
    pairs, unmatched = [], []
    for scene in scenes:
        files = {p.stem.lower(): p for p in sorted(scene.iterdir()) if is_image(p) and p.stem.lower() in SIR2_STEMS}
        if not files:
            continue
        if "m" in files and "g" in files:
            pairs.append(ImagePair(scene.name, files["m"], files["g"], files.get("r")))
        else:
            unmatched.extend(files.values())
    if not pairs and not unmatched:
        return None
    return PairSet(root, "sir2-scenes", tuple(pairs), tuple(unmatched))


def _describe(root: Path) -> str:
    entries = sorted(root.iterdir())
    folders = [p.name + "/" for p in entries if p.is_dir()]
    images = [p.name for p in entries if is_image(p)]
    shown = folders[:10] + images[:5]
    more = len(folders) + len(images) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "nothing"


def find_pairs(root: str | Path) -> PairSet:
    """The pairs of one set folder; an error that lists what the folder holds when no layout fits."""
    root = Path(root)
    if not root.is_dir():
        raise RRGANError(f"{root}: no such folder")
    for layout, input_dir, target_dir, reflection_dir in FOLDER_LAYOUTS:
        if (root / input_dir).is_dir() and (root / target_dir).is_dir():
            pair_set = _match_folders(root, layout, input_dir, target_dir, reflection_dir)
            break
    else:
        pair_set = _match_sir2_scenes(root)
        if pair_set is None:
            layouts = "; ".join(f"{i}/ + {t}/" for _, i, t, _ in FOLDER_LAYOUTS)
            raise RRGANError(f"{root}: no image-pair layout found (expected {layouts}; "
                             f"or one folder per scene with m.* and g.*); it holds: {_describe(root)}")
    if not pair_set.pairs:
        names = ", ".join(p.name for p in pair_set.unmatched[:10]) or "no images"
        raise RRGANError(f"{root}: layout {pair_set.layout} but no file has a partner with the same stem "
                         f"(found: {names})")
    return pair_set


def is_pair_folder(root: Path) -> bool:
    try:
        find_pairs(root)
    except RRGANError:
        return False
    return True


def find_pair_sets(root: str | Path, max_depth: int = 3) -> list[PairSet]:
    """Every pair set at or below ``root`` (e.g. ``data/train`` holding ``real89/`` and ``glass400/``)."""
    root = Path(root)
    if not root.is_dir():
        raise RRGANError(f"{root}: no such folder")

    def walk(folder: Path, depth: int) -> list[PairSet]:
        if is_pair_folder(folder):
            return [find_pairs(folder)]
        if depth == 0:
            return []
        return [s for sub in sorted(folder.iterdir()) if sub.is_dir() for s in walk(sub, depth - 1)]

    sets = walk(root, max_depth)
    if not sets:
        find_pairs(root)  # raises the error that explains what the folder holds
    return sets


def find_photos(root: str | Path) -> list[Path]:
    """All images below ``root``, sorted: clean photos to blend into synthetic pairs."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise RRGANError(f"{root}: no such file or folder")
    photos = sorted(p for p in root.rglob("*") if is_image(p) and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    if not photos:
        raise RRGANError(f"{root}: no files found")
    return photos
