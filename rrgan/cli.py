"""Console scripts. Each parses its arguments, calls the package, and turns a user's mistake
(RRGANError) into one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from rrgan.errors import RRGANError  # noqa: E402


def _friendly(prog: str):
    """Run a main function; print RRGANError as ``prog: error: ...`` and exit 2."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except RRGANError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run
    return wrap


def _config_from_args(args):
    from rrgan.config import preset
    return preset(args.preset).override(args.overrides)


def _add_config_arguments(parser: argparse.ArgumentParser, default_preset: str) -> None:
    parser.add_argument("--preset", default=default_preset, help=f"named config (default: {default_preset})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set data.crop_size=128 (repeatable)")


def _convert(args) -> int:
    from rrgan.data.pairs import find_pair_sets, find_photos
    from rrgan.data.tfrecords import write_pairs, write_photos

    total_written, skipped = 0, []
    for source in args.sources:
        source = Path(source)
        if args.photos:
            jobs = [(source.name, write_photos, find_photos(source), ())]
        else:
            jobs = [(s.root.name, write_pairs, s.pairs, s.unmatched) for s in find_pair_sets(source)]
        for name, write, items, unmatched in jobs:
            for path in unmatched:
                skipped.append(f"{path}: no partner with the same stem")
            summary = write(items, args.output, args.prefix or name, shard_size=args.shard_size,
                            progress=not args.quiet)
            total_written += summary.written
            skipped.extend(summary.skipped)
            for shard in summary.shards:
                print(shard)
    for message in skipped:
        print(f"skipped: {message}", file=sys.stderr)
    print(f"wrote {total_written} record(s) to {args.output}; skipped {len(skipped)} file(s)")
    return 0 if total_written else 1


def _preview(args) -> int:
    import numpy as np

    from rrgan.data.default import write_default_photos
    from rrgan.data.pipeline import training_dataset
    from rrgan.visualize import image_grid, save_png

    config = _config_from_args(args)
    with tempfile.TemporaryDirectory() as scratch:
        sources = args.data or [write_default_photos(
            Path(scratch) / "photos", config.data.default_photos, config.data.default_photo_size)[0].parent]
        batch = next(iter(training_dataset(sources, config.data, batch_size=args.rows, seed=args.seed)))
    rows = [[batch[key][i].numpy() for key in ("input", "target", "reflection")] for i in range(args.rows)]
    grid = image_grid(rows, titles=("input I", "target T", "reflection R"))
    print(save_png(args.output, np.asarray(grid)))
    return 0


def _default(args) -> int:
    from rrgan.data.default import write_default_photos

    paths = write_default_photos(args.output, args.count, args.size, seed=args.seed)
    print(f"wrote {len(paths)} scene(s) to {args.output}")
    return 0


@_friendly("rrgan-data")
def data_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rrgan-data", description="Prepare and look at rrgan training data.")
    commands = parser.add_subparsers(dest="command", required=True)

    convert = commands.add_parser("convert", help="write sharded TFRecords from pair folders or photo folders")
    convert.add_argument("sources", nargs="+", help="pair folders (any layout rrgan knows) or, with --photos, "
                                                    "folders of clean photos")
    convert.add_argument("-o", "--output", required=True, help="folder for the shards")
    convert.add_argument("--photos", action="store_true", help="sources are plain photos (for synthesis)")
    convert.add_argument("--prefix", help="shard name prefix (default: the source folder's name)")
    convert.add_argument("--shard-size", type=int, default=256, help="records per shard (default: 256)")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(run=_convert)

    preview = commands.add_parser("preview", help="write a PNG grid of training samples: input | target | "
                                                  "reflection (embedded default data unless --data)")
    preview.add_argument("--data", nargs="+", help="folders or TFRecords (default: the embedded scenes)")
    preview.add_argument("-o", "--output", default="preview.png", help="PNG to write (default: preview.png)")
    preview.add_argument("--rows", type=int, default=6, help="samples to show (default: 6)")
    preview.add_argument("--seed", type=int, default=0)
    _add_config_arguments(preview, "tiny")
    preview.set_defaults(run=_preview)

    default = commands.add_parser("default", help="write the embedded default scenes as PNGs")
    default.add_argument("-o", "--output", required=True, help="folder to write into")
    default.add_argument("--count", type=int, default=96)
    default.add_argument("--size", type=int, default=192)
    default.add_argument("--seed", type=int, default=0)
    default.set_defaults(run=_default)

    args = parser.parse_args(argv)
    return args.run(args)


@_friendly("rrgan-train")
def train_main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="rrgan-train",
        description="Train rrgan: stage 1 (Edge-net, Attention-net), then stage 2 (generator vs discriminator). "
                    "With no arguments, trains the tiny preset on the embedded default data (a few minutes on CPU). "
                    "Run it again with the same --workdir to resume.")
    parser.add_argument("--data", nargs="+", default=[], metavar="PATH",
                        help="pair folders, photo folders or TFRecords (default: the embedded scenes)")
    parser.add_argument("--val", nargs="+", default=[], metavar="PATH", help="pair folders to validate on")
    parser.add_argument("--workdir", default="rrgan-run", help="where checkpoints, logs and samples go "
                                                               "(default: ./rrgan-run)")
    parser.add_argument("--stage", choices=("aux", "gan", "all"), default="all", help="which stage(s) to train")
    parser.add_argument("--steps", type=int, help="train the chosen stage(s) to this many steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--preset", help="named config (default: tiny, or the work dir's saved config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.batch_size=8 (repeatable)")
    args = parser.parse_args(argv)

    from rrgan.config import Config, preset

    workdir = Path(args.workdir)
    saved = workdir / "config.json"
    if args.preset is None and saved.exists():
        config = Config.load(saved).override(args.overrides)
        print(f"resuming with {saved}")
    else:
        config = preset(args.preset or "tiny").override(args.overrides)
    stages = ("aux", "gan") if args.stage == "all" else (args.stage,)
    if args.steps is not None:
        if args.steps < 0:
            raise RRGANError(f"--steps must be positive, got {args.steps}")
        config = config.override([f"train.{stage}_steps={args.steps}" for stage in stages])
    for path in [*args.data, *args.val]:
        if not any(ch in path for ch in "*?[") and not Path(path).exists():
            raise RRGANError(f"{path}: no such file or folder")

    from rrgan.training.run import train

    result = train(config, workdir, args.data, args.val, stages, progress=not args.quiet)
    print(f"\nstage 1 (aux) at step {result.aux_step}, stage 2 (gan) at step {result.gan_step}")
    if result.validation:
        v = result.validation
        print(f"validation: PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.3f} "
              f"(identity {v['identity_psnr']:.2f} dB / {v['identity_ssim']:.3f})")
    for name, what in (("checkpoints", "checkpoints"), ("losses.csv", "loss log"),
                       ("validation.csv", "validation log"), ("samples", "sample grids"),
                       ("tensorboard", "TensorBoard logs")):
        if (result.workdir / name).exists():
            print(f"{what:>17}: {result.workdir / name}")
    return 0
