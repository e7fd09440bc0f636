"""A training run: work dir, strategy, networks, both stages, checkpoints and resume.

Everything a run makes lives in its work dir::

    config.json        the exact config (reused when the run is resumed)
    sources.json       the --data and --val paths (reused when the run is resumed without them)
    checkpoints/       tf.train checkpoints of all nets and optimizers (resume starts here)
    losses.csv         stage, step, loss name, value (mean over train.log_every steps)
    validation.csv     PSNR / SSIM on held-out pairs, with the identity baseline
    tensorboard/       the same scalars for TensorBoard
    samples/           input | attention | edge | output | target grids every train.sample_every steps
    export/rrgan/N/    the SavedModel of the generator bundle after N steps (TF Serving layout)
    default_data/      the embedded default scenes, when no data was given
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf

from rrgan.config import Config
from rrgan.data.default import write_default_pairs, write_default_photos
from rrgan.data.pipeline import collect_sources, evaluation_dataset, is_glob, training_dataset
from rrgan.export import export_bundle
from rrgan.losses import build_vgg_features
from rrgan.models import Networks, build_generator, build_networks
from rrgan.training import callbacks as cb
from rrgan.training.trainers import AuxiliaryTrainer, GANTrainer

STAGES = ("aux", "gan")
VALIDATION_IMAGES = 24


@dataclass(frozen=True)
class RunResult:
    workdir: Path
    aux_step: int
    gan_step: int
    validation: dict | None
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


@contextlib.contextmanager
def _dtype_policy(name: str | None):
    """Build layers under a dtype policy without leaving it set for the rest of the process."""
    previous = keras.mixed_precision.dtype_policy()
    if name:
        keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def _adam(learning_rate: float, beta_1: float, mixed_precision: bool):
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer


def _distributable(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def train_steps(strategy: tf.distribute.Strategy, trainer: keras.Model, dataset: tf.data.Dataset, steps: int,
                callbacks: list, progress: bool) -> None:
    """Run ``trainer.train_step`` for ``steps`` batches on every replica, with Keras callbacks.

    Our own loop rather than ``Model.fit``: Keras 3's fit does not support
    MultiWorkerMirroredStrategy (keras-team/keras#20585); this loop works under every strategy.
    """
    callback_list = keras.callbacks.CallbackList(callbacks, add_progbar=progress, model=trainer, verbose=1,
                                                 epochs=1, steps=steps)

    @tf.function
    def distributed_step(batch):
        logs = strategy.run(trainer.train_step, args=(batch,))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    batches = iter(strategy.experimental_distribute_dataset(dataset))
    trainer.stop_training = False
    logs = {}
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    for step in range(steps):
        callback_list.on_train_batch_begin(step)
        logs = distributed_step(next(batches))
        callback_list.on_train_batch_end(step, logs)
        if trainer.stop_training:
            break
    callback_list.on_epoch_end(0, logs)
    callback_list.on_train_end(logs)


class Run:
    """Builds everything once under the strategy's scope, restores the latest checkpoint, trains."""

    def __init__(self, config: Config, workdir: str | Path, data: Sequence[str | Path] = (),
                 validation: Sequence[str | Path] = (), progress: bool = True):
        self.config = config
        # First, before any TF op: a multi-worker strategy must configure collectives at startup.
        self.strategy = select_strategy()
        self.chief = is_chief()
        workdir = Path(workdir)
        if not self.chief:  # non-chief workers write to a scratch folder of their own (tf.distribute guide)
            workdir = workdir / f"worker_{json.loads(os.environ['TF_CONFIG'])['task']['index']}"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.last_scores = None
        data, validation = self._remember_sources(data, validation)
        if not data:
            data, default_validation = default_data(workdir, config)
            validation = validation or default_validation
        self.sources = collect_sources(data)
        self.validation = evaluation_dataset(validation).take(VALIDATION_IMAGES) if validation else None
        if self.chief:
            config.save(workdir / "config.json")

        train = config.train
        keras.utils.set_random_seed(train.seed)  # the same seed gives the same initial weights
        with self.strategy.scope(), _dtype_policy("mixed_float16" if train.mixed_precision else None):
            self.networks = build_networks(config.model)
            self.average_generator = build_generator(config.model, name="generator_ema") if train.ema_decay else None
            vgg = build_vgg_features(config.loss.perceptual_weights) if config.loss.perceptual > 0 else None
            self.aux_trainer = AuxiliaryTrainer(self.networks, config.loss)
            self.aux_trainer.compile(optimizer=_adam(train.aux_learning_rate, 0.9, train.mixed_precision))
            fine_tune = train.aux_finetune_learning_rate > 0
            self.gan_trainer = GANTrainer(self.networks, config.loss, vgg, fine_tune_aux=fine_tune)
            aux_finetune_optimizer = (_adam(train.aux_finetune_learning_rate, 0.9, train.mixed_precision)
                                      if fine_tune else None)
            self.gan_trainer.compile(
                generator_optimizer=_adam(train.generator_learning_rate, 0.5, train.mixed_precision),
                discriminator_optimizer=_adam(train.discriminator_learning_rate, 0.5, train.mixed_precision),
                aux_optimizer=aux_finetune_optimizer)
            self._build_optimizers()
            trackables = dict(
                edge_net=self.networks.edge_net, attention_net=self.networks.attention_net,
                generator=self.networks.generator, discriminator=self.networks.discriminator,
                aux_optimizer=self.aux_trainer.optimizer, generator_optimizer=self.gan_trainer.generator_optimizer,
                discriminator_optimizer=self.gan_trainer.discriminator_optimizer)
            if self.average_generator is not None:
                trackables["generator_ema"] = self.average_generator
            if fine_tune:
                trackables["aux_finetune_optimizer"] = self.gan_trainer.aux_optimizer
            self.checkpoint = tf.train.Checkpoint(**trackables)
            self.manager = tf.train.CheckpointManager(self.checkpoint, str(workdir / "checkpoints"), max_to_keep=3)
            if self.manager.latest_checkpoint:
                self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            elif self.average_generator is not None:
                self.average_generator.set_weights(self.networks.generator.get_weights())

    def _remember_sources(self, data, validation) -> tuple[list[str], list[str]]:
        """Data given now is saved in sources.json; a run resumed without --data reuses what it saved,
        instead of silently switching to the embedded default data."""
        saved_file = self.workdir / "sources.json"
        data = [str(p) if is_glob(p) else str(Path(p).resolve()) for p in data]
        validation = [str(Path(p).resolve()) for p in validation]
        if not data and saved_file.exists():
            saved = json.loads(saved_file.read_text())
            return saved["data"], validation or saved["validation"]
        if self.chief:
            temporary = saved_file.with_name(saved_file.name + ".tmp")
            temporary.write_text(json.dumps({"data": data, "validation": validation}, indent=2) + "\n")
            os.replace(temporary, saved_file)
        return data, validation

    def _build_optimizers(self):
        """Create optimizer slots now, so a checkpoint restores them instead of deferring."""
        aux_variables = self.networks.attention_net.trainable_variables + self.networks.edge_net.trainable_variables
        self.aux_trainer.optimizer.build(aux_variables)
        self.gan_trainer.generator_optimizer.build(self.networks.generator.trainable_variables)
        self.gan_trainer.discriminator_optimizer.build(self.networks.discriminator.trainable_variables)
        if self.gan_trainer.aux_optimizer is not None:
            self.gan_trainer.aux_optimizer.build(aux_variables)

    @property
    def aux_step(self) -> int:
        return int(self.aux_trainer.optimizer.iterations.numpy())

    @property
    def gan_step(self) -> int:
        return int(self.gan_trainer.generator_optimizer.iterations.numpy())

    @property
    def inference_networks(self) -> Networks:
        """The networks as a user gets them: with the EMA generator where there is one."""
        if self.average_generator is None:
            return self.networks
        return Networks(self.networks.edge_net, self.networks.attention_net, self.average_generator,
                        self.networks.discriminator)

    def _dataset(self, step: int) -> tf.data.Dataset:
        # A resumed run continues with fresh batches instead of replaying the ones it already saw.
        dataset = training_dataset(self.sources, self.config.data, self.config.train.batch_size,
                                   seed=self.config.train.seed + step)
        return _distributable(dataset)

    def _common_callbacks(self, stage: str, optimizer) -> list:
        train = self.config.train
        sample = next(iter(training_dataset(self.sources, self.config.data, 4, seed=12345)))
        return [
            cb.LossLog(stage, optimizer, self.workdir / "losses.csv", self.workdir / "tensorboard", train.log_every),
            cb.PeriodicCheckpoint(stage, optimizer, self.manager, train.checkpoint_every),
            cb.SampleGrid(stage, optimizer, self.inference_networks, sample["input"].numpy(),
                          sample["target"].numpy(), self.workdir / "samples", train.sample_every),
        ]

    def train_aux(self, steps: int) -> None:
        remaining = steps - self.aux_step
        if remaining <= 0:
            return
        callbacks = self._common_callbacks("aux", self.aux_trainer.optimizer)
        train_steps(self.strategy, self.aux_trainer, self._dataset(self.aux_step), remaining, callbacks, self.progress)

    def train_gan(self, steps: int) -> None:
        remaining = steps - self.gan_step
        if remaining <= 0:
            return
        train, optimizer = self.config.train, self.gan_trainer.generator_optimizer
        callbacks = [cb.AdversarialWarmup("gan", optimizer, self.gan_trainer.adversarial_weight,
                                          self.config.loss.adversarial, train.adversarial_warmup_steps)]
        if self.average_generator is not None:
            callbacks.append(cb.GeneratorEMA(self.networks.generator, self.average_generator, train.ema_decay))
        callbacks += self._common_callbacks("gan", optimizer)
        validation = None
        if self.validation is not None:
            validation = cb.Validation("gan", optimizer, self.inference_networks, self.validation,
                                       self.workdir / "validation.csv", self.workdir / "tensorboard",
                                       train.validation_every)
            callbacks.append(validation)
        train_steps(self.strategy, self.gan_trainer, self._dataset(self.gan_step), remaining, callbacks, self.progress)
        self.last_scores = validation.scores if validation is not None else None

    def validate(self) -> dict | None:
        """Validation scores now: those the stage just ended with, or computed afresh (a resumed run)."""
        if self.validation is None:
            return None
        return self.last_scores or cb.validation_scores(self.inference_networks, self.validation)


def train(config: Config, workdir: str | Path, data: Sequence[str | Path] = (),
          validation: Sequence[str | Path] = (), stages: Sequence[str] = STAGES, progress: bool = True) -> RunResult:
    """Train the selected stages to ``config.train.aux_steps`` / ``gan_steps``, resuming from the work dir."""
    run = Run(config, workdir, data, validation, progress)
    if "aux" in stages:
        run.train_aux(config.train.aux_steps)
    if "gan" in stages:
        run.train_gan(config.train.gan_steps)
    exported = None
    if run.chief and run.gan_step > 0:
        exported = export_bundle(run.inference_networks, run.workdir / "export", "rrgan",
                                 version=run.aux_step + run.gan_step, exist_ok=True)
    return RunResult(run.workdir, run.aux_step, run.gan_step, run.validate(), exported)
