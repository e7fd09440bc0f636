"""A training run: work dir, strategy, networks, the stages, checkpoints and resume.

Everything a run makes lives in its work dir::

    config.json        the exact config (reused when the run is resumed)
    sources.json       the --data, --photos and --val paths (reused when the run is resumed without them)
    checkpoints/       tf.train checkpoints of all nets and optimizers (resume starts here)
    checkpoints/best/  the best model by validation (mean PSNR gain over identity across the sets)
    losses.csv         stage, step, loss name, value (mean over train.log_every steps)
    validation.csv     PSNR / SSIM on each validation set, with the identity baseline
    tensorboard/       the same scalars for TensorBoard
    samples/           input | attention | edge | output | target grids every train.sample_every steps
    presence.json      the Presence-net's fitted head: its odds and the rows it was fitted on
    export/rrgan/N/    the SavedModel of the best (else the last) model after N steps (TF Serving layout)
    default_data/      the embedded default scenes, when no data was given
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from rrgan import checkpoints
from rrgan.config import Config, ConfigError, TrainConfig, grows_into, keeps_attention_net, preset
from rrgan.data.default import write_default_pairs, write_default_photos
from rrgan.data.level_views import level_dataset
from rrgan.data.pipeline import (
    collect_sources,
    evaluation_subset,
    is_glob,
    training_dataset,
)
from rrgan.errors import RRGANError, Stopped
from rrgan.export import export_bundle
from rrgan.files import atomic_write
from rrgan.inference import compute_precision, is_workdir, load_config, load_networks
from rrgan.layers import dtype_policy
from rrgan.level import levelled_transmission
from rrgan.losses import build_perceptual_features
from rrgan.metrics import validation_scores
from rrgan.models import Networks, build_generator, build_networks, grow_into
from rrgan.training import callbacks as cb
from rrgan.training import presence_fit
from rrgan.training.trainers import AuxiliaryTrainer, GANTrainer, LevelTrainer

# The level and presence stages train only where the model has a Level-net / Presence-net.
STAGES = ("aux", "gan", "level", "presence")
LEVEL_LEARNING_RATE_FLOOR = 0.05  # the level stage's cosine decay ends at this share of its rate
PRESENCE_RECORD = "presence.json"


@dataclass(frozen=True)
class RunResult:
    workdir: Path
    aux_step: int
    gan_step: int
    level_step: int
    presence_odds: float | None  # the fitted Presence-net's, once its stage has run
    validation: dict | None  # the scores of the exported model, at validation_step
    validation_step: int | None
    export: Path | None


def select_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored from TF_CONFIG, Mirrored on several GPUs, else the default strategy."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """True for the process that owns the work dir (the only one, or worker 0 / the chief)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = tf_config.get("task")
    if not task:
        return True
    if "chief" in tf_config.get("cluster", {}):
        return task["type"] == "chief"
    return task["type"] == "worker" and task.get("index", 0) == 0


def default_data(workdir: Path, config: Config) -> tuple[list[Path], list[Path]]:
    """The embedded default: procedural scenes for synthesis, and held-out synthetic pairs to validate on."""
    photos = write_default_photos(workdir / "default_data" / "photos", config.data.default_photos,
                                  config.data.default_photo_size)[0].parent
    validation = write_default_pairs(workdir / "default_data" / "validation", 8, config.data.default_photo_size)
    return [photos], [validation]


@keras.saving.register_keras_serializable("rrgan")
class StableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup-stable-decay without the warmup (Adam needs none here): the rate stays at its start
    until the last ``decay_steps``, then falls linearly to ``floor`` times the start. Every
    checkpoint of the stable phase is a point to extend the run from or branch a short decay off."""

    def __init__(self, initial_learning_rate: float, total_steps: int, decay_steps: int, floor: float):
        self.initial_learning_rate = initial_learning_rate
        self.total_steps = total_steps
        self.decay_steps = max(decay_steps, 1)
        self.floor = floor

    def __call__(self, step):
        decayed = keras.ops.cast(step - (self.total_steps - self.decay_steps), "float32") / self.decay_steps
        progress = keras.ops.clip(decayed, 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - (1.0 - self.floor) * progress)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "total_steps": self.total_steps,
                "decay_steps": self.decay_steps, "floor": self.floor}


def _adam(learning_rate: float, beta_1: float, steps: int, train: TrainConfig):
    """Adam with the run's schedule; float16 compute also needs loss scaling (bfloat16 does not)."""
    if train.learning_rate_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1),
                                                               alpha=train.learning_rate_floor)
    elif train.learning_rate_schedule == "wsd":
        learning_rate = StableDecay(learning_rate, steps, steps - train.decay_start(steps), train.learning_rate_floor)
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
    return keras.optimizers.LossScaleOptimizer(optimizer) if train.precision == "mixed_float16" else optimizer


def _cosine_adam(learning_rate: float, steps: int):
    """Adam on a cosine to ``LEVEL_LEARNING_RATE_FLOOR`` of its rate: the whole-photo stages' optimizer."""
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1),
                                                                        alpha=LEVEL_LEARNING_RATE_FLOOR))


def _distributable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


class StopRequest:
    """SIGTERM or SIGINT during training, remembered instead of ending the process mid-step: the
    loop stops after the step in progress and the run saves a checkpoint there. A second SIGINT
    (Ctrl-C twice) interrupts at once. Handlers can only be set in the main thread; elsewhere
    signals keep their usual effect."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_number: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _handle(self, number, frame) -> None:
        if number == signal.SIGINT and self.requested:
            raise KeyboardInterrupt
        self.signal_number = number

    @property
    def requested(self) -> bool:
        return self.signal_number is not None


def train_steps(strategy: tf.distribute.Strategy, trainer: keras.Model, dataset: tf.data.Dataset, steps: int,
                callbacks: list, progress_bar: bool, stop: StopRequest) -> bool:
    """Run ``trainer.train_step`` for ``steps`` batches on every replica, with Keras callbacks.
    Returns True when ``stop`` ended it between two steps (the callbacks' train-end work, such as a
    validation, is then skipped: a stop is often a preemption with seconds to spare).

    Our own loop rather than ``Model.fit``: Keras 3's fit does not support
    MultiWorkerMirroredStrategy (keras-team/keras#20585); this loop works under every strategy.
    """
    callback_list = keras.callbacks.CallbackList(callbacks, add_progbar=progress_bar, model=trainer, verbose=1,
                                                 epochs=1, steps=steps)

    def replica_step(batch, stop_requested):
        # Summed over all replicas, so that a signal to any worker stops every one after the same step.
        stops = tf.distribute.get_replica_context().all_reduce("SUM", tf.cast(stop_requested, tf.float32))
        return trainer.train_step(batch), stops

    @tf.function
    def distributed_step(batch, stop_requested):
        logs, stops = strategy.run(replica_step, args=(batch, stop_requested))
        return ({name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()},
                strategy.experimental_local_results(stops)[0] > 0)

    batches = iter(strategy.experimental_distribute_dataset(dataset))
    trainer.stop_training = False
    logs = {}
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    for step in range(steps):
        callback_list.on_train_batch_begin(step)
        logs, stopping = distributed_step(next(batches), tf.constant(stop.requested))
        callback_list.on_train_batch_end(step, logs)
        if bool(stopping):
            stop.signal_number = stop.signal_number or signal.SIGTERM  # a worker that was not signalled
            return True
        if trainer.stop_training:
            break
    callback_list.on_epoch_end(0, logs)
    callback_list.on_train_end(logs)
    return False


def validation_sets(validation: Sequence[str], data: Sequence[str], config: Config) -> dict[str, tf.data.Dataset]:
    """Each --val set by name; one that lies in a --data folder is scored on its pairs held out of
    training (``data.pair_holdout``, named ``<set>_holdout``): a run never validates on pairs it
    trains on."""
    sets = {}
    for path in map(Path, validation):
        trained_on = any(path == Path(folder) or Path(folder) in path.parents for folder in data)
        if trained_on and config.data.pair_holdout <= 0.0:
            raise RRGANError(f"--val {path} is a training set (--data): set data.pair_holdout to hold some of its "
                             f"pairs out of training, or validate on another set")
        holdout = config.data.pair_holdout if trained_on else 0.0
        sets[path.name + ("_holdout" if trained_on else "")] = evaluation_subset(
            path, config.train.validation_images, holdout)
    return sets


class Run:
    """Builds everything once under the strategy's scope, restores or initializes the networks, trains.

    Set-up order matters, and resuming is decided once, here:
      1. strategy (a multi-worker strategy must configure collectives before any TF op);
      2. work dir (non-chief workers get a scratch folder of their own);
      3. sources: --data / --photos / --val given now are saved in sources.json; a resume without
         them reuses the saved ones; no data at all means the embedded default scenes;
      4. config.json is written (the CLI reads it back when resuming without --preset);
      5. seeds, then networks and optimizers under the dtype policy;
      6. weights: the latest checkpoint of the work dir if there is one (a resume), else ``init``
         (fine-tuning from trained networks), else the seeded random initialization.
    """

    def __init__(self, config: Config, workdir: str | Path, data: Sequence[str | Path] = (),
                 validation: Sequence[str | Path] = (), progress: bool = True, init: str | Path | None = None,
                 photos: Sequence[str | Path] = ()):
        self.config = config
        self.progress = progress
        self.stop = StopRequest()  # installed by ``train`` around the stages
        self.strategy = select_strategy()
        self.chief = is_chief()
        self.workdir = self._workdir(Path(workdir))
        data, photos, validation = self._remember_sources(data, photos, validation)
        if not data and not photos:
            photos, default_validation = default_data(self.workdir, config)
            validation = validation or default_validation
        self.sources = collect_sources(data, photos)
        self.validation_sets = validation_sets(validation, data, config)
        if self.chief:
            config.save(self.workdir / "config.json")
        keras.utils.set_random_seed(config.train.seed)  # the same seed gives the same initial weights
        with self.strategy.scope(), dtype_policy(compute_precision(config.train.precision)):
            self._build()
            self._restore_or_initialize(init)

    def _workdir(self, workdir: Path) -> Path:
        if not self.chief:  # non-chief workers write to a scratch folder of their own (tf.distribute guide)
            workdir = workdir / f"worker_{json.loads(os.environ['TF_CONFIG'])['task']['index']}"
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir

    def _remember_sources(self, data, photos, validation) -> tuple[list[str], list[str], list[str]]:
        saved_file = self.workdir / "sources.json"
        data, photos = ([str(p) if is_glob(p) else str(Path(p).resolve()) for p in paths] for paths in (data, photos))
        validation = [str(Path(p).resolve()) for p in validation]
        if not data and not photos and saved_file.exists():
            saved = json.loads(saved_file.read_text())
            return saved["data"], saved.get("photos", []), validation or saved["validation"]
        if self.chief:
            atomic_write(saved_file, json.dumps({"data": data, "photos": photos, "validation": validation},
                                                indent=2) + "\n")
        return data, photos, validation

    def _build(self):
        config, train = self.config, self.config.train
        self.networks = build_networks(config.model)
        self.average_generator = build_generator(config.model, name="generator_ema") if train.ema_decay else None
        perceptual = build_perceptual_features(config.loss.perceptual_weights) if config.loss.perceptual > 0 else None
        self.aux_trainer = AuxiliaryTrainer(self.networks, config.loss)
        self.aux_trainer.compile(optimizer=_adam(train.aux_learning_rate, train.aux_beta_1, train.aux_steps, train))
        fine_tune = train.aux_finetune_learning_rate > 0
        self.gan_trainer = GANTrainer(self.networks, config.loss, perceptual, fine_tune_aux=fine_tune)
        self.gan_trainer.compile(
            generator_optimizer=_adam(train.generator_learning_rate, train.gan_beta_1, train.gan_steps, train),
            discriminator_optimizer=_adam(train.discriminator_learning_rate, train.gan_beta_1, train.gan_steps, train),
            aux_optimizer=(_adam(train.aux_finetune_learning_rate, train.aux_beta_1, train.gan_steps, train)
                           if fine_tune else None))
        self.level_trainer, self.whole_photo_validation = None, None
        if self.networks.level_net is not None:
            self.level_trainer = LevelTrainer(self.inference_networks, config.loss.level_norm)
            self.level_trainer.compile(optimizer=_cosine_adam(train.level_learning_rate, train.level_steps))
        self._build_optimizers()
        trackables = dict(
            **checkpoints.network_objects(self.networks, self.average_generator),
            aux_optimizer=self.aux_trainer.optimizer, generator_optimizer=self.gan_trainer.generator_optimizer,
            discriminator_optimizer=self.gan_trainer.discriminator_optimizer)
        if fine_tune:
            trackables["aux_finetune_optimizer"] = self.gan_trainer.aux_optimizer
        if self.level_trainer is not None:
            trackables["level_optimizer"] = self.level_trainer.optimizer
        self.checkpoint = tf.train.Checkpoint(**trackables)
        folder = self.workdir / checkpoints.CHECKPOINTS
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(folder), max_to_keep=train.max_to_keep)
        self.best_manager = tf.train.CheckpointManager(self.checkpoint, str(folder / checkpoints.BEST),
                                                       max_to_keep=1)

    def _restore_or_initialize(self, init):
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            return
        if init is not None:
            self._initialize_from(init)
        if self.average_generator is not None:
            self.average_generator.set_weights(self.networks.generator.get_weights())

    def _initialize_from(self, init):
        """Fine-tuning: start from trained networks (a work dir, a weights folder, or '' for the shipped weights)."""
        init = init or None
        init_model, model = load_config(init).model, self.config.model
        if not grows_into(init_model, model):
            raise ConfigError(f"--init {init or 'shipped weights'}: its model config differs from this run's "
                              f"({init_model} vs {model}); use the same model section (model.generator_blocks "
                              f"may grow, a model.backbone may be added, and the Attention-net may change)")
        trained = load_networks(init)
        names = ["edge_net", "generator"]
        if keeps_attention_net(init_model, model):
            names.append("attention_net")
        else:
            print("--init: model.attention_* differ from the trained networks': the Attention-net starts untrained",
                  flush=True)
        if init is not None and is_workdir(init):
            names.append("discriminator")  # weights folders carry none: it starts fresh
        names += [name for name in ("level_net", "presence_head") if getattr(trained, name) is not None]
        for name in names:
            grow_into(getattr(trained, name), getattr(self.networks, name))

    def _build_optimizers(self):
        """Create optimizer slots now, so a checkpoint restores them instead of deferring."""
        aux_variables = self.networks.attention_net.trainable_variables + self.networks.edge_net.trainable_variables
        self.aux_trainer.optimizer.build(aux_variables)
        self.gan_trainer.generator_optimizer.build(self.networks.generator.trainable_variables)
        self.gan_trainer.discriminator_optimizer.build(self.networks.discriminator.trainable_variables)
        if self.gan_trainer.aux_optimizer is not None:
            self.gan_trainer.aux_optimizer.build(aux_variables)
        if self.level_trainer is not None:
            self.level_trainer.optimizer.build(self.networks.level_net.trainable_variables)

    @property
    def aux_step(self) -> int:
        return int(self.aux_trainer.optimizer.iterations.numpy())

    @property
    def gan_step(self) -> int:
        return int(self.gan_trainer.generator_optimizer.iterations.numpy())

    @property
    def level_step(self) -> int:
        return 0 if self.level_trainer is None else int(self.level_trainer.optimizer.iterations.numpy())

    @property
    def presence_odds(self) -> float | None:
        record = self.workdir / PRESENCE_RECORD
        return json.loads(record.read_text())["odds"] if record.exists() else None

    @property
    def inference_networks(self) -> Networks:
        """The networks as a user gets them: with the EMA generator where there is one."""
        if self.average_generator is None:
            return self.networks
        return self.networks.with_generator(self.average_generator)

    def _dataset(self, stage: str, step: int) -> tf.data.Dataset:
        # A resumed run continues with fresh batches instead of replaying the ones it already saw.
        config, seed = self.config, self.config.train.seed + step
        if stage == "level":
            dataset = level_dataset(self.sources, config.data, config.train.level_batch_size,
                                    config.model.level_thumbnail, seed)
        else:
            dataset = training_dataset(self.sources, config.data, config.train.batch_size, seed=seed)
        return _distributable(dataset)

    @property
    def _progress_bar(self) -> bool:
        """A progress bar on a terminal; elsewhere, ProgressLines."""
        return self.progress and sys.stdout.isatty()

    @functools.cached_property
    def _sample_batch(self) -> dict:
        """The four crops whose results every sample grid of the run shows, drawn once for both stages."""
        return next(iter(training_dataset(self.sources, self.config.data, 4, seed=12345)))

    def _logging_callbacks(self, stage: str, optimizer, total_steps: int, batch_size: int) -> list:
        train = self.config.train
        lines = ([cb.ProgressLines(stage, optimizer, total_steps, batch_size, train.log_every)]
                 if self.progress and not self._progress_bar else [])
        return lines + [
            cb.LossLog(stage, optimizer, self.workdir / "losses.csv", self.workdir / "tensorboard", train.log_every),
            cb.PeriodicCheckpoint(stage, optimizer, self.manager, train.checkpoint_every),
        ]

    def _common_callbacks(self, stage: str, optimizer, total_steps: int) -> list:
        sample = self._sample_batch
        return self._logging_callbacks(stage, optimizer, total_steps, self.config.train.batch_size) + [
            cb.SampleGrid(stage, optimizer, self.inference_networks, sample["input"].numpy(),
                          sample["target"].numpy(), self.workdir / "samples", self.config.train.sample_every),
        ]

    def train_aux(self, steps: int) -> None:
        remaining = steps - self.aux_step
        if remaining <= 0:
            return
        callbacks = self._common_callbacks("aux", self.aux_trainer.optimizer, steps)
        self._train_steps("aux", self.aux_trainer, self.aux_trainer.optimizer, remaining, callbacks)

    def train_gan(self, steps: int) -> None:
        remaining = steps - self.gan_step
        if remaining <= 0:
            return
        train, optimizer = self.config.train, self.gan_trainer.generator_optimizer
        callbacks = [cb.AdversarialWarmup("gan", optimizer, self.gan_trainer.adversarial_weight,
                                          self.config.loss.adversarial, train.adversarial_warmup_steps)]
        if self.average_generator is not None:
            callbacks.append(cb.GeneratorEMA(self.networks.generator, self.average_generator, train.ema_decay))
        callbacks += self._common_callbacks("gan", optimizer, steps)
        validation = None
        if self.validation_sets:
            networks = self.inference_networks
            validation = cb.Validation("gan", optimizer,
                                       lambda images: networks.remove_reflection(images)["transmission"],
                                       self.validation_sets, self.workdir / "validation.csv",
                                       self.workdir / "tensorboard", train.validation_every,
                                       self.best_manager if self.chief else None, train.early_stop_patience)
            if validation.patience_spent():
                print(f"gan stage stopped early at step {self.gan_step} (train.early_stop_patience); not resumed")
                return
            callbacks.append(validation)
        phases = self._gan_phases(steps)
        for end, adversarial in phases:
            if end > self.gan_step and not self.gan_trainer.stop_training:
                if adversarial and len(phases) > 1:
                    print(f"gan step {self.gan_step}: the decay, with the discriminator "
                          "(train.adversarial_phase=decay)", flush=True)
                self.gan_trainer.adversarial = adversarial
                self._train_steps("gan", self.gan_trainer, optimizer, end - self.gan_step, callbacks)

    def train_level(self, steps: int) -> None:
        """The level stage: the Level-net alone on whole-photo views. Its validations score the model
        with the whole-photo step (``rrgan.level``) and keep no best: the generator's best stays the
        run's, and users get the latest Level-net with it (``rrgan.inference.load_workdir``)."""
        optimizer = self.level_trainer.optimizer
        remaining = steps - self.level_step
        if remaining <= 0:
            return
        train = self.config.train
        callbacks = self._logging_callbacks("level", optimizer, steps, train.level_batch_size)
        if self.validation_sets:
            networks = self.inference_networks
            self.whole_photo_validation = cb.Validation(
                "level", optimizer, lambda images: levelled_transmission(networks, images), self.validation_sets,
                self.workdir / "validation.csv", self.workdir / "tensorboard", train.validation_every)
            callbacks.append(self.whole_photo_validation)
        self._train_steps("level", self.level_trainer, optimizer, remaining, callbacks)

    def fit_presence(self) -> None:
        """The presence stage (``rrgan.training.presence_fit``): the head fitted on the run's training
        pairs and photos, its odds set on held-out clean photos through the networks users get, both
        saved (checkpoint, ``model.presence_odds`` in config.json) with a record of what they came from."""
        if self.presence_odds is not None:
            return
        if self.config.model.presence_hidden:
            raise ConfigError("the presence stage fits a logistic head: set model.presence_hidden=0")
        networks, data = self.inference_networks, self.config.data
        rows = presence_fit.training_rows(networks, self.sources, data, self.progress)
        presence_fit.set_head(networks, *presence_fit.fit_head(rows))
        logits, darkening = presence_fit.photo_darkening(networks,
                                                         presence_fit.calibration_photos(self.sources, data))
        odds = presence_fit.calibrated_odds(logits, darkening)
        self.whole_photo_validation = None  # it scored the networks before this head
        if not self.chief:
            return
        self.config = self.config.override([f"model.presence_odds={odds:.4g}"])
        self.config.save(self.workdir / "config.json")
        checkpoints.save(self.manager)
        groups, counts = np.unique(rows.group, return_counts=True)
        atomic_write(self.workdir / PRESENCE_RECORD, json.dumps({
            "odds": float(f"{odds:.4g}"), "rows": dict(zip(groups.tolist(), counts.tolist())),
            "calibration_photos": len(logits), "darker": presence_fit.DARKER}, indent=2) + "\n")
        print(f"presence stage: head fitted on {len(rows.group)} photos, odds {odds:.4g} from {len(logits)} "
              f"held-out clean photos ({presence_fit.DARKER:.0%} darker)", flush=True)

    def _gan_phases(self, steps: int) -> list[tuple[int, bool]]:
        """Stage 2 as (last step, discriminator in the step) phases: one, or two split at the decay's start."""
        adversarial = self.config.loss.adversarial > 0
        if adversarial and self.config.train.adversarial_phase == "decay":
            return [(self.config.train.decay_start(steps), False), (steps, True)]
        return [(steps, adversarial)]

    def _train_steps(self, stage: str, trainer: keras.Model, optimizer, steps: int, callbacks: list) -> None:
        """Train, and end the run with Stopped after a signal, with a checkpoint of the step it stopped at
        (saved here after a stop between steps, or by the stage's end when the signal came then)."""
        dataset = self._dataset(stage, int(optimizer.iterations.numpy()))
        if train_steps(self.strategy, trainer, dataset, steps, callbacks, self._progress_bar, self.stop):
            checkpoints.save(self.manager)
        if self.stop.requested:
            step = int(optimizer.iterations.numpy())
            raise Stopped(f"{stage} stage stopped by {signal.Signals(self.stop.signal_number).name} at step {step}: "
                          f"checkpoint saved in {self.manager.directory}; the same command resumes from there",
                          self.stop.signal_number)

    def exported_scores(self) -> tuple[dict | None, int | None]:
        """Validation scores of the model the run exports (the best one, else the latest) and its gan
        step: as recorded when it was saved, or computed now for a record that kept no scores or a
        model with trained whole-photo nets (the step is then the level stage's)."""
        if not self.validation_sets:
            return None, None
        record = cb.read_best_record(self.best_manager.directory)
        step = self.level_step
        if step > 0 or self.presence_odds is not None:
            last = self.whole_photo_validation.last if self.whole_photo_validation is not None else None
            if record is None and last is not None and last[0] == step:
                return last[1], step  # the latest networks, as users get them, scored at the stage's end
            networks = load_networks(self.workdir)
            return validation_scores(lambda images: levelled_transmission(networks, images),
                                     self.validation_sets), step
        if record is None:
            networks, step = self.inference_networks, self.gan_step
        elif "scores" in record:
            return record["scores"], record["step"]
        else:
            networks, step = load_networks(self.workdir), record["step"]
        return validation_scores(lambda images: networks.remove_reflection(images)["transmission"],
                                 self.validation_sets), step


def run_config(workdir: str | Path, preset_name: str | None = None, overrides: Sequence[str] = (),
               init: str | Path | None = None) -> tuple[Config, bool]:
    """The config of a run and whether it resumes, by the one resume rule: a work dir with a
    config.json, and no preset asked for, resumes with that config; otherwise the preset (``tiny``
    by default) is used, with the model section of ``init`` when fine-tuning (the weights decide
    the architecture). Overrides apply last, in both cases
    (``--set model.generator_blocks=N`` grows the init's generator)."""
    saved = Path(workdir) / "config.json"
    if preset_name is None and saved.exists():
        return Config.load(saved).override(overrides), True
    config = preset(preset_name or "tiny")
    if init is not None:
        config = dataclasses.replace(config, model=load_config(init or None).model)
    return config.override(overrides), False


def train(config: Config | None, workdir: str | Path, data: Sequence[str | Path] = (),
          validation: Sequence[str | Path] = (), stages: Sequence[str] = STAGES, progress: bool = True,
          init: str | Path | None = None, photos: Sequence[str | Path] = ()) -> RunResult:
    """Train the selected stages to ``config.train.aux_steps`` / ``gan_steps`` / ``level_steps`` /
    then the presence stage's fit (the last two only where ``config.model.level_net`` / ``presence_net``)
    on the pair sets of ``data``
    and the clean photos of ``photos`` (synthesis), resuming from the work dir
    (or, in a new work dir, starting from the trained networks of ``init``: '' means the shipped
    weights). ``config=None`` takes it as ``rrgan-train`` does (``run_config``): the work dir's own
    when it has one. Exports the best model by validation, or the last one when nothing was validated."""
    if config is None:
        config, _ = run_config(workdir, init=init)
    if (init is not None and "aux" not in stages and checkpoints.latest(workdir) is None
            and not keeps_attention_net(load_config(init or None).model, config.model)):
        raise ConfigError(f"--init {init or 'shipped weights'}: this run's Attention-net (model.attention_*) is not "
                          f"the trained one's, so it starts untrained: train stage aux as well")
    run = Run(config, workdir, data, validation, progress, init, photos)
    with run.stop:
        # A stage is over once a later one has begun: that one learned on its networks as they were.
        # A resumed run that began at a later stage (``--stage gan`` or ``--stage level`` with
        # ``--init``) must not retrain the networks it started from; a request for a stage alone does.
        later_begun = {"aux": run.gan_step > 0 or run.level_step > 0, "gan": run.level_step > 0}
        if "aux" in stages and not (len(stages) > 1 and later_begun["aux"]):
            run.train_aux(config.train.aux_steps)
        if "gan" in stages and not (len(stages) > 1 and later_begun["gan"]):
            run.train_gan(config.train.gan_steps)
        if "level" in stages and run.level_trainer is not None:
            run.train_level(config.train.level_steps)
        if "presence" in stages and run.networks.presence_net is not None:
            run.fit_presence()
    exported = None
    steps = run.aux_step + run.gan_step + run.level_step + (run.presence_odds is not None)
    if run.chief and steps > run.aux_step:
        exported = export_bundle(load_networks(run.workdir), run.workdir / "export", "rrgan", version=steps,
                                 exist_ok=True)
    scores, scores_step = run.exported_scores()
    return RunResult(run.workdir, run.aux_step, run.gan_step, run.level_step, run.presence_odds, scores,
                     scores_step, exported)
