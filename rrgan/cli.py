"""Console scripts. Each parses its arguments, calls the package, and turns a user's mistake
(RRGANError) into one line on stderr and exit status 2, never a traceback. Each starts quietly,
without TensorFlow's start-up lines (``rrgan.startup``; --verbose or RRGAN_VERBOSE=1 shows them)."""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

from rrgan import EXAMPLE_PHOTO, WORKING_PIXELS
from rrgan.errors import RRGANError, Stopped
from rrgan.startup import prefer_onednn, quiet_start, verbose_requested


def _friendly(prog: str):
    """Run a main function; print RRGANError as ``prog: error: ...`` and exit 2, and a run stopped by
    a signal as ``prog: ...`` with 128 + its number."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                quiet_start(verbose_requested(argv))
                return main(argv)
            except RRGANError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2
            except Stopped as stop:
                print(f"{prog}: {stop}", file=sys.stderr)
                return 128 + stop.signal_number
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run
    return wrap


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """Read before parsing, by ``_friendly``; declared so that parsers accept it and --help lists it."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and info lines (also: RRGAN_VERBOSE=1)")


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
    from rrgan.visualize import image_grid, save_image

    config = _config_from_args(args)
    with tempfile.TemporaryDirectory() as scratch:
        photos = args.photos
        if not args.data and not photos:
            photos = [write_default_photos(Path(scratch) / "photos", config.data.default_photos,
                                           config.data.default_photo_size)[0].parent]
        batch = next(iter(training_dataset(args.data, config.data, batch_size=args.rows, seed=args.seed,
                                           photos=photos)))
    rows = [[batch[key][i].numpy() for key in ("input", "target", "reflection")] for i in range(args.rows)]
    grid = image_grid(rows, titles=("input I", "target T", "reflection R"))
    print(save_image(args.output, np.asarray(grid)))
    return 0


def _example(args) -> int:
    import shutil

    from rrgan.files import atomic_path

    with atomic_path(args.output) as temporary:
        shutil.copyfile(EXAMPLE_PHOTO, temporary)
    print(args.output)
    return 0


def _synthesize(args) -> int:
    import dataclasses

    from rrgan.data.pipeline import holdout_pairs
    from rrgan.visualize import save_image

    config = _config_from_args(args)
    holdout = config.data.photo_holdout if args.holdout is None else args.holdout
    data = dataclasses.replace(config.data, crop_size=args.size, photo_holdout=holdout)
    written = 0
    for pair in holdout_pairs(args.photos, data, seed=args.seed):
        name = pair["name"].numpy().decode()
        for role in ("input", "target"):
            save_image(Path(args.output) / role / f"{name}.png", pair[role].numpy())
        written += 1
    print(f"wrote {written} synthetic pair(s) from held-out photos to {args.output} (input/, target/)")
    return 0 if written else 1


REJECTION_WORDS = {"shift": "target shifted over {config.pair_max_shift:g} px",
                   "brightness_ratio": "brightness ratio outside {config.pair_brightness_ratio[0]:g}-"
                                       "{config.pair_brightness_ratio[1]:g}"}


def _check(args) -> int:
    import csv
    import dataclasses

    from rrgan.data.pipeline import check_pairs
    from rrgan.visualize import image_grid, letterbox, save_image

    data = _config_from_args(args).data
    checks, sheet = [], []
    for check, pair in check_pairs(args.pairs, data):
        checks.append(check)
        if check.left_out and len(sheet) < args.sheet_rows:
            caption = f"{check.name}: ratio {check.brightness_ratio:.2f}, shift {check.shift:.1f} px"
            sheet.append([letterbox(pair["input"].numpy(), args.thumbnail, caption),
                          letterbox(pair["target"].numpy(), args.thumbnail)])
    if not checks:
        raise RRGANError(f"no image pairs in {', '.join(map(str, args.pairs))}")
    for pair_set in dict.fromkeys(c.pair_set for c in checks):
        rows = [c for c in checks if c.pair_set == pair_set]
        held = [c for c in rows if c.held_out]
        left_out = [c for c in rows if c.left_out]
        print(f"{pair_set}: {len(rows)} pairs; {len(rows) - len(held) - len(left_out)} trained on, "
              f"{len(held)} held out (data.pair_holdout={data.pair_holdout:g}), {len(left_out)} left out")
        for reason, words in REJECTION_WORDS.items():
            hits = [c for c in left_out if reason in c.left_out_by]
            if hits:
                listed = ", ".join(f"{c.name} ({c.brightness_ratio:.2f}, {c.shift:.1f} px)" for c in hits)
                print(f"  {words.format(config=data)}: {len(hits)}: {listed}")
    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=[f.name for f in dataclasses.fields(checks[0])])
            writer.writeheader()
            writer.writerows({**dataclasses.asdict(c), "left_out_by": " ".join(c.left_out_by)} for c in checks)
        print(f"every pair's measures: {args.csv}")
    if args.sheet and sheet:
        shown = f"the first {len(sheet)} " if len(sheet) < sum(c.left_out for c in checks) else ""
        print(f"{shown}left-out pairs (input | target): "
              f"{save_image(args.sheet, image_grid(sheet, ('input', 'target')))}")
    elif args.sheet:
        print(f"no pair is left out: {args.sheet} not written")
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
                                                  "reflection (embedded default data unless --data / --photos)")
    preview.add_argument("--data", nargs="+", default=[], help="folders of image pairs (or their TFRecords)")
    preview.add_argument("--photos", nargs="+", default=[], help="clean photos for synthesis (files, folders, "
                                                                  "TFRecords)")
    preview.add_argument("-o", "--output", default="preview.png", help="PNG to write (default: preview.png)")
    preview.add_argument("--rows", type=int, default=6, help="samples to show (default: 6)")
    preview.add_argument("--seed", type=int, default=0)
    _add_config_arguments(preview, "tiny")
    preview.set_defaults(run=_preview)

    example = commands.add_parser("example", help="write the example photo shipped with rrgan: a coffee cup "
                                                  "behind glass with a reflection (public-domain images)")
    example.add_argument("-o", "--output", default="window.jpg", help="file to write (default: window.jpg)")
    example.set_defaults(run=_example)

    synthesize = commands.add_parser(
        "synthesize", help="write synthetic pairs made from the photos held out of training (data.photo_holdout): "
                           "a test set no run trained on, for rrgan-eval")
    synthesize.add_argument("--photos", nargs="+", required=True, help="the clean photos training was given")
    synthesize.add_argument("-o", "--output", required=True, help="folder for input/ and target/")
    synthesize.add_argument("--holdout", type=float, help="share held out (default: the preset's data.photo_holdout)")
    synthesize.add_argument("--size", type=int, default=256, help="side of each pair, pixels (default: 256)")
    synthesize.add_argument("--seed", type=int, default=0)
    _add_config_arguments(synthesize, "cpu-long")
    synthesize.set_defaults(run=_synthesize)

    check = commands.add_parser(
        "check", help="list the real pairs that training leaves out (data.pair_max_shift, "
                      "data.pair_brightness_ratio) or holds out (data.pair_holdout), with their measures")
    check.add_argument("pairs", nargs="+", help="pair folders (or folders of pair sets, or their TFRecords)")
    check.add_argument("--sheet", help="PNG showing the left-out pairs, input beside target")
    check.add_argument("--sheet-rows", type=int, default=40, help="most pairs on the sheet (default: 40)")
    check.add_argument("--thumbnail", type=int, default=256, help="side of each picture on the sheet (default: 256)")
    check.add_argument("--csv", help="CSV of every pair: shift, brightness ratio, held out, left out by")
    _add_config_arguments(check, "cpu-long")
    check.set_defaults(run=_check)

    default = commands.add_parser("default", help="write the embedded default scenes as PNGs")
    default.add_argument("-o", "--output", required=True, help="folder to write into")
    default.add_argument("--count", type=int, default=96)
    default.add_argument("--size", type=int, default=192)
    default.add_argument("--seed", type=int, default=0)
    default.set_defaults(run=_default)
    for command in commands.choices.values():
        _add_verbose(command)

    args = parser.parse_args(argv)
    return args.run(args)


@_friendly("rrgan-train")
def train_main(argv=None) -> int:
    prefer_onednn()
    parser = argparse.ArgumentParser(
        prog="rrgan-train",
        description="Train rrgan: stage 1 (Edge-net, Attention-net), then stage 2 (generator vs discriminator), "
                    "then the level stage (the Level-net, where model.level_net is set) and the presence stage "
                    "(the Presence-net's head fitted on the training pairs and photos and its odds set on held-out "
                    "photos, where model.presence_net is set). "
                    "With no arguments, trains the tiny preset on the embedded default data (a few minutes on CPU). "
                    "Run it again with the same --workdir to resume.")
    parser.add_argument("--data", nargs="+", default=[], metavar="PATH",
                        help="folders of image pairs in a layout rrgan knows (or their TFRecords)")
    parser.add_argument("--photos", nargs="+", default=[], metavar="PATH",
                        help="clean photos (files, folders or TFRecords) to synthesize pairs from "
                             "(default, with no --data either: the embedded scenes)")
    parser.add_argument("--val", nargs="+", default=[], metavar="PATH", help="pair folders to validate on")
    parser.add_argument("--workdir", default="rrgan-run", help="where checkpoints, logs and samples go "
                                                               "(default: ./rrgan-run)")
    parser.add_argument("--stage", choices=("aux", "gan", "level", "presence", "all"), default="all",
                        help="which stage(s) to train (level: the Level-net, where model.level_net is set; "
                             "presence: the Presence-net's head, fitted, where model.presence_net is set)")
    parser.add_argument("--steps", type=int, help="train the chosen stage(s) to this many steps")
    parser.add_argument("--init", metavar="WEIGHTS", nargs="?", const="",
                        help="start a new run from trained networks: a work dir or weights folder, or nothing "
                             "for the shipped weights (fine-tuning; the model section comes from WEIGHTS)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_verbose(parser)
    parser.add_argument("--preset", help="named config (default: tiny, or the work dir's saved config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.batch_size=8 (repeatable)")
    args = parser.parse_args(argv)

    from rrgan.data.pipeline import is_glob
    from rrgan.inference import compute_precision
    from rrgan.training.run import STAGES, run_config, train

    if args.init and not Path(args.init).exists():
        raise RRGANError(f"--init {args.init}: no such work dir or weights folder")
    workdir = Path(args.workdir)
    config, resumed = run_config(workdir, args.preset, args.overrides, args.init)
    if resumed:
        print(f"resuming with {workdir / 'config.json'}")
    if config.train.precision == "auto":
        print(f"train.precision=auto: computing in {compute_precision('auto')} on this machine")
    stages = STAGES if args.stage == "all" else (args.stage,)
    for stage, net, key in (("level", "Level-net", "level_net"), ("presence", "Presence-net", "presence_net")):
        if args.stage == stage and not getattr(config.model, key):
            raise RRGANError(f"--stage {stage} trains the {net}, and this model has none: add --set model.{key}=true")
    if args.steps is not None:
        stepped = [stage for stage in stages if stage != "presence"]  # the presence stage is a fit
        if args.steps < 0 or not stepped:
            raise RRGANError(f"--steps must be positive, got {args.steps}" if stepped else
                             "--steps: the presence stage fits its head at once; it has no steps")
        config = config.override([f"train.{stage}_steps={args.steps}" for stage in stepped])
    for path in [*args.data, *args.photos, *args.val]:
        if not is_glob(path) and not Path(path).exists():
            raise RRGANError(f"{path}: no such file or folder")
    result = train(config, workdir, args.data, args.val, stages, progress=not args.quiet, init=args.init,
                   photos=args.photos)
    print(f"\nstage 1 (aux) at step {result.aux_step}, stage 2 (gan) at step {result.gan_step}"
          + (f", level stage at step {result.level_step}" if config.model.level_net else "")
          + (", presence head not fitted" if config.model.presence_net and result.presence_odds is None else
             f", presence head fitted (odds {result.presence_odds:g})" if config.model.presence_net else ""))
    if result.validation:
        stage = "level" if result.level_step or result.presence_odds is not None else "gan"
        print(f"the exported model ({stage} step {result.validation_step}) on the validation sets:")
    for name, v in (result.validation or {}).items():
        print(f"  {name}: PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.3f} "
              f"(identity {v['identity_psnr']:.2f} dB / {v['identity_ssim']:.3f})")
    if result.export:
        print(f"   exported model: {result.export}  (try: rrgan-remove photo.jpg -o out/ --model {result.export})")
    for name, what in (("checkpoints", "checkpoints"), ("losses.csv", "loss log"),
                       ("validation.csv", "validation log"), ("samples", "sample grids"),
                       ("tensorboard", "TensorBoard logs")):
        if (result.workdir / name).exists():
            print(f"{what:>17}: {result.workdir / name}")
    return 0


def _method(args):
    """The chosen method as a function of a uint8 photo to its uint8 layers (those of
    ``rrgan.inference.remove_reflections``; yang2019 finds no map)."""
    from rrgan.inference import load_model, reflection_layer, remove_reflections, with_tta

    if args.method == "yang2019":
        from rrgan.baselines import yang2019

        if args.tta > 1:
            raise RRGANError("--tta applies to rrgan's networks, not to --method yang2019")

        def remove(image):
            transmission = yang2019(image)
            return {"transmission": transmission, "reflection": reflection_layer(image, transmission)}

        return remove
    model = load_model(args.model, args.precision)
    if args.tta > 1:
        model = with_tta(model, args.tta)
    return lambda image: remove_reflections(model, image, tile=args.tile, overlap=args.overlap,
                                            working_pixels=_working_pixels(args))


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="SavedModel, TF Serving model folder (newest version), training work dir or "
                                        "weights folder (default: the weights shipped with rrgan)")
    _add_precision(parser, "auto")
    parser.add_argument("--tile", type=int, default=512, help="tile size for large photos (default: 512)")
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels (default: 64)")
    _add_working_size(parser, WORKING_PIXELS / 1e6)
    _add_size_limit(parser)
    _add_verbose(parser)


def _add_method_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_arguments(parser)
    parser.add_argument("--tta", type=int, nargs="?", const=8, default=1, metavar="N",
                        help="test-time augmentation: average the model over the first N of the 8 flips and "
                             "rotations (--tta alone: all 8; costs N times the time; default: off)")
    parser.add_argument("--method", choices=("rrgan", "yang2019"), default="rrgan",
                        help="rrgan, or yang2019: the closed-form method of Yang et al. CVPR 2019 (no training)")


def _add_precision(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"), default=default,
                        help="compute dtype of the networks (weights stay float32); auto: bfloat16 on CPUs "
                             f"with native bfloat16 support, else float32 (default: {default})")


def _add_size_limit(parser: argparse.ArgumentParser,
                    what: str = "refuse images larger than this, read from the file's header") -> None:
    parser.add_argument("--max-megapixels", type=float, default=100.0, help=f"{what} (default: 100)")


def _max_pixels(args) -> int:
    return int(args.max_megapixels * 1e6)


def _add_working_size(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument("--working-megapixels", type=float, default=default, metavar="MP",
                        help="run the model on larger photos downscaled to this size, then add its correction to "
                             "the full-size photo (fine detail is kept; a 24 MP photo costs about what 1 MP does); "
                             f"0: the model at full size, in tiles (default: {default:g})")


def _working_pixels(args) -> int:
    return int(args.working_megapixels * 1e6)


@_friendly("rrgan-remove")
def remove_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rrgan-remove", description="Remove reflections from photos.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="photos or folders of photos")
    parser.add_argument("-o", "--output", required=True, help="folder for the clean photos")
    parser.add_argument("--format", choices=("same", "png", "jpg", "webp", "tif"), default="same",
                        help="output format (default: the input's; PNG where rrgan cannot write it)")
    parser.add_argument("--save", nargs="+", choices=("transmission", "reflection", "map"), default=["transmission"],
                        metavar="LAYER", help="what to write for each photo, any of: transmission (the clean photo, "
                        "<stem>.<ext>), reflection (what was taken out, I - T: <stem>_reflection.png), map (where "
                        "the model found reflections, 8-bit gray: <stem>_map.png); default: transmission")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_method_arguments(parser)
    args = parser.parse_args(argv)
    if "map" in args.save and args.method == "yang2019":
        raise RRGANError("--save map: yang2019 finds no reflection map (the map is rrgan's attention)")

    from tqdm.auto import tqdm

    from rrgan.data.images import read_rgb
    from rrgan.data.pairs import find_photos
    from rrgan.inference import output_names
    from rrgan.visualize import save_image

    jobs = []  # (source, path relative to the output folder)
    for path in map(Path, args.paths):
        if not path.exists():
            raise RRGANError(f"{path}: no such file or folder")
        if path.is_dir():
            jobs.extend((photo, photo.relative_to(path)) for photo in find_photos(path))
        else:
            jobs.append((path, Path(path.name)))
    method = _method(args)
    skipped = 0
    for source, relative in tqdm(jobs, desc="removing reflections", unit="photo", disable=args.quiet):
        try:
            outputs = method(read_rgb(source, _max_pixels(args)))
            for layer, name in output_names(relative, args.save, args.format).items():
                save_image(Path(args.output) / name, outputs[layer])
        except RRGANError as err:
            skipped += 1
            print(f"skipped: {err}", file=sys.stderr)
    print(f"wrote {len(jobs) - skipped} photo(s) to {args.output}" + (f"; skipped {skipped}" if skipped else ""))
    return 1 if skipped else 0


@_friendly("rrgan-demo")
def demo_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rrgan-demo", description="Serve a web page that removes reflections "
                                     "from your photos (Gradio), on this machine only unless told otherwise.")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine "
                                                            "only; 0.0.0.0: every network it is on)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--share", action="store_true", help="also publish the page on a temporary public "
                                                             "gradio.live address (off by default)")
    _add_model_arguments(parser)
    args = parser.parse_args(argv)
    try:
        from rrgan import demo
    except ImportError as err:
        if err.name != "gradio":
            raise
        raise RRGANError('the web page needs Gradio: pip install "rrgan[demo]"') from None

    remover = demo.Remover(args.model, args.precision, args.tile, args.overlap, _max_pixels(args),
                           _working_pixels(args))
    remover.model()  # a wrong --model stops here, not at the first photo
    try:
        demo.build_app(remover).launch(server_name=args.host, server_port=args.port, share=args.share)
    except OSError as err:
        raise RRGANError(f"cannot serve on {args.host}:{args.port}: {err}") from None
    return 0


@_friendly("rrgan-eval")
def eval_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rrgan-eval", description="PSNR / SSIM on pair folders, beside the "
                                                                    "identity baseline (input as output).")
    parser.add_argument("folders", nargs="+", metavar="PAIRS", help="pair folders (or folders of pair sets)")
    parser.add_argument("-o", "--output", default="rrgan-eval", help="folder for the CSVs and figures")
    parser.add_argument("--figure", nargs="+", default=[], metavar="IMAGE",
                        help="image names (file stems) to show in a comparison figure")
    parser.add_argument("--resize-multiple", type=int, default=0, metavar="N",
                        help="resize input and target to the nearest lower multiple of N per side first (bicubic), "
                             "the protocol of most published numbers: --resize-multiple 32 (default: full size)")
    parser.add_argument("--pair-holdout", type=float, default=0.0, metavar="FRACTION",
                        help="score only the pairs of each set that a run with data.pair_holdout=FRACTION held out of "
                             "training (e.g. 0.15, the runs of docs/experiments.md); default: every pair")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_method_arguments(parser)
    args = parser.parse_args(argv)

    from rrgan.data.images import read_rgb
    from rrgan.data.pairs import find_pair_sets
    from rrgan.evaluation import (
        SKIMAGE_SSIM_WINDOW,
        comparison_figure,
        evaluate,
        resize_to_multiple,
        summarize,
    )

    if args.resize_multiple < 0:
        raise RRGANError(f"--resize-multiple must be positive, got {args.resize_multiple}")
    if not 0.0 <= args.pair_holdout < 1.0:
        raise RRGANError(f"--pair-holdout must be in [0, 1), got {args.pair_holdout}")

    for folder in args.folders:
        find_pair_sets(folder)  # a clear error before any model is loaded
    layers = _method(args)

    def method(image):
        return layers(image)["transmission"]

    table = evaluate({args.method: method}, args.folders, progress=not args.quiet, max_pixels=_max_pixels(args),
                     resize_multiple=args.resize_multiple, pair_holdout=args.pair_holdout)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / "per_image.csv", index=False)
    summary = summarize(table)
    summary.to_csv(output / "summary.csv", index=False)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"PSNR in dB on uint8 RGB (data range 255); SSIM: {SKIMAGE_SSIM_WINDOW}, mean over channels; "
          f"level-free PSNR: after the one gain per image that fits the target best; level: output / target brightness")
    if args.figure:
        wanted = set(args.figure)
        rows = []
        for folder in args.folders:
            for pair in (p for s in find_pair_sets(folder) for p in s.pairs if p.name in wanted):
                image, target = (read_rgb(path, _max_pixels(args)) for path in (pair.input, pair.target))
                if args.resize_multiple:
                    image, target = (resize_to_multiple(x, args.resize_multiple) for x in (image, target))
                rows.append((pair.name, image, method(image), target))
        if not rows:
            raise RRGANError(f"--figure: none of {', '.join(sorted(wanted))} is in the evaluated sets")
        print(f"figure: {comparison_figure(output / 'comparison.png', rows)}")
    print(f"tables: {output / 'per_image.csv'}, {output / 'summary.csv'}")
    return 0


@_friendly("rrgan-export")
def export_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rrgan-export", description="Export a trained bundle (Attention-net, "
                                     "Edge-net, generator) as one SavedModel in the TF Serving layout.")
    parser.add_argument("workdir", nargs="?", help="training work dir or weights folder "
                                                   "(default: the weights shipped with rrgan)")
    parser.add_argument("-o", "--output", default="export", help="export root (default: ./export)")
    parser.add_argument("--name", default="rrgan", help="model name (default: rrgan)")
    parser.add_argument("--version", type=int, help="version number (default: the next free one)")
    parser.add_argument("--weights", metavar="FOLDER", help="instead of a SavedModel, write a weights folder "
                                                            "(config.json + .weights.h5 files, as shipped)")
    _add_precision(parser, "float32")
    _add_size_limit(parser, "the SavedModel refuses a request with an image larger than this, by its header "
                            "before decoding (remove_encoded) or by its shape (serving_default)")
    parser.add_argument("--max-batch", type=int, default=16,
                        help="the SavedModel refuses a request with more images than this (default: 16)")
    _add_working_size(parser, 0)
    _add_verbose(parser)
    args = parser.parse_args(argv)

    from rrgan.config import Config
    from rrgan.export import ServingLimits, export_bundle, save_weights
    from rrgan.inference import load_networks, pretrained_folder

    limits = ServingLimits(_max_pixels(args), args.max_batch)
    networks = load_networks(args.workdir, args.precision)  # the serving machine may lack native bfloat16
    if args.weights:
        config = Config.load(Path(args.workdir or pretrained_folder()) / "config.json")
        print(save_weights(networks, config, args.weights))
    else:
        print(export_bundle(networks, args.output, args.name, args.version, limits=limits,
                            working_pixels=_working_pixels(args)))
    return 0
