"""Callbacks that make a run observable and safe: logs, checkpoints, samples, validation, EMA, warm-up.

Steps are counted by the stage's optimizer (``optimizer.iterations``), which is checkpointed, so
logs and files keep their step numbers across a resume.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from rrgan import checkpoints
from rrgan.errors import RRGANError
from rrgan.files import append_csv, atomic_write
from rrgan.metrics import model_rank, validation_scores
from rrgan.models import Networks
from rrgan.visualize import image_grid, save_image


class TrainingDiverged(RRGANError):
    """A loss became NaN or Inf; the run stopped before saving anything from that state."""


class _StageCallback(keras.callbacks.Callback):
    def __init__(self, stage: str, optimizer):
        super().__init__()
        self.stage = stage
        self.optimizer_for_steps = optimizer

    @property
    def step(self) -> int:
        """Steps finished in this stage (read after the optimizer applied this batch)."""
        return int(self.optimizer_for_steps.iterations.numpy())


class LossLog(_StageCallback):
    """Every ``every`` steps: one CSV row and TensorBoard scalars of the window's mean losses.

    Trackers are reset at each window start, so a row is the mean of the last ``every`` steps. A
    non-finite loss stops training at once with TrainingDiverged; as this callback runs before the
    checkpointer, the last checkpoint on disk stays the last good one.
    """

    def __init__(self, stage, optimizer, csv_path: Path, tensorboard_dir: Path, every: int):
        super().__init__(stage, optimizer)
        self.csv_path = csv_path
        self.every = every
        self.writer = tf.summary.create_file_writer(str(tensorboard_dir / stage))

    def on_train_batch_begin(self, batch, logs=None):
        if self.step % self.every == 0:
            for metric in self.model.metrics:
                metric.reset_state()

    def on_train_batch_end(self, batch, logs=None):
        logs = {name: float(value) for name, value in (logs or {}).items()}
        bad = [name for name, value in logs.items() if not math.isfinite(value)]
        if bad:
            self.model.stop_training = True
            raise TrainingDiverged(f"{self.stage} stage: loss {bad[0]} became {logs[bad[0]]} at step {self.step}; "
                                   f"stopped without saving, the last good checkpoint is kept")
        if self.step % self.every:
            return
        append_csv(self.csv_path, ["stage", "step", "name", "value"],
                   [[self.stage, self.step, name, f"{value:.6g}"] for name, value in sorted(logs.items())])
        with self.writer.as_default(step=self.step):
            for name, value in logs.items():
                tf.summary.scalar(f"{self.stage}/{name}", value)
        self.writer.flush()


class ProgressLines(_StageCallback):
    """One line every ``every`` steps, for logs that are not a terminal (a file, nohup, CI), where a
    progress bar would write carriage-return lines thousands of characters long. The speed counts
    the training steps only: validations, checkpoints and samples in between do not slow it."""

    def __init__(self, stage, optimizer, total_steps: int, batch_size: int, every: int):
        super().__init__(stage, optimizer)
        self.total_steps, self.batch_size, self.every = total_steps, batch_size, every
        self.step_started = 0.0
        self.window_seconds, self.window_steps = 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.step_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.window_seconds += time.perf_counter() - self.step_started
        self.window_steps += 1
        if self.step % self.every and self.step != self.total_steps:
            return
        steps_per_second = self.window_steps / max(self.window_seconds, 1e-9)
        left = (self.total_steps - self.step) / max(steps_per_second, 1e-9)
        losses = " ".join(f"{name} {float(value):.4g}" for name, value in sorted((logs or {}).items()))
        print(f"{self.stage} step {self.step}/{self.total_steps}: {losses} | "
              f"{steps_per_second * self.batch_size:.1f} images/s, {_duration(left)} left", flush=True)
        self.window_seconds, self.window_steps = 0.0, 0


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{int(seconds % 60):02d}s"


class _Periodic(_StageCallback):
    """Runs ``act`` every ``every`` steps and when the stage ends, at most once per step (a
    divergence raises out of the loop, so nothing runs after one)."""

    def __init__(self, stage, optimizer, every: int):
        super().__init__(stage, optimizer)
        self.every = every
        self.done_step = -1

    def act(self) -> None:
        raise NotImplementedError

    def _act_once(self):
        if self.step != self.done_step:
            self.act()
            self.done_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        if self.step % self.every == 0:
            self._act_once()

    def on_train_end(self, logs=None):
        self._act_once()


class PeriodicCheckpoint(_Periodic):
    """Save all nets and optimizers (tf.train.CheckpointManager writes atomically; a full disk is
    an error that names it, ``checkpoints.save``)."""

    def __init__(self, stage, optimizer, manager: tf.train.CheckpointManager, every: int):
        super().__init__(stage, optimizer, every)
        self.manager = manager

    def act(self):
        checkpoints.save(self.manager)


class SampleGrid(_Periodic):
    """A PNG of fixed examples: input | attention | edge | output | target."""

    def __init__(self, stage, optimizer, networks: Networks, images: np.ndarray, targets: np.ndarray,
                 folder: Path, every: int):
        super().__init__(stage, optimizer, every)
        self.networks, self.images, self.targets, self.folder = networks, images, targets, folder

    def act(self):
        outputs = self.networks.remove_reflection(self.images)
        edges = np.asarray(outputs["edge"])
        edges = np.clip(edges / max(float(edges.max()), 1e-6), 0.0, 1.0)  # stretched: edges are faint
        rows = [[self.images[i], np.asarray(outputs["attention"][i]), edges[i],
                 np.asarray(outputs["transmission"][i]), self.targets[i]] for i in range(len(self.images))]
        grid = image_grid(rows, titles=("input", "attention", "edge", "output", "target"))
        save_image(self.folder / f"{self.stage}_{self.step:06d}.png", grid)


class Validation(_Periodic):
    """Scores of ``remove`` (float photos -> float transmissions: the model as the stage trains it)
    on each validation set beside its identity baseline, to CSV, TensorBoard and the console; the
    best model's are kept in ``best.json``.

    The run's best model (``rrgan.metrics.model_rank``: beating identity in PSNR and SSIM on every
    set first, then the mean PSNR gain over identity) is saved by ``best_manager``: short runs
    swing between checkpoints, and the last one is not the best. With ``patience``, the stage
    stops once that many validations in a row found no better model.
    """

    def __init__(self, stage, optimizer, remove: Callable[[tf.Tensor], tf.Tensor], sets: dict[str, tf.data.Dataset],
                 csv_path: Path, tensorboard_dir: Path, every: int,
                 best_manager: tf.train.CheckpointManager | None = None, patience: int = 0):
        super().__init__(stage, optimizer, every)
        self.remove, self.sets, self.csv_path = remove, sets, csv_path
        self.best_manager, self.patience = best_manager, patience
        self.writer = tf.summary.create_file_writer(str(tensorboard_dir / "validation"))
        self.best_rank, self.best_step = best_record(best_manager)
        self.last: tuple[int, dict] | None = None  # (step, scores) of the latest validation

    def patience_spent(self) -> bool:
        """True once ``patience`` validations since the best model found none better."""
        return bool(self.patience) and self.best_step is not None and (
            self.step - self.best_step >= self.patience * self.every)

    def act(self):
        scores = validation_scores(self.remove, self.sets)
        self.last = self.step, scores
        rank = model_rank(scores)
        gain = rank[1]
        append_csv(self.csv_path, ["stage", "step", "set", *SCORE_NAMES],
                   [[self.stage, self.step, name, *(f"{s[key]:.4f}" for key in SCORE_NAMES)]
                    for name, s in scores.items()])
        with self.writer.as_default(step=self.step):
            for name, values in scores.items():
                for key, value in values.items():
                    tf.summary.scalar(f"{name}/{key}", value)
            tf.summary.scalar("mean_psnr_gain", gain)
        lines = [f"  {name}: PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.3f}, level-free {s['level_free_psnr']:.2f} dB "
                 f"(identity {s['identity_psnr']:.2f} dB / {s['identity_ssim']:.3f} / "
                 f"{s['identity_level_free_psnr']:.2f} dB)" for name, s in scores.items()]
        improved = rank > self.best_rank  # tracked on every worker, so that all of them stop together
        if improved:
            self.best_rank, self.best_step = rank, self.step
            if self.best_manager is not None:
                checkpoints.save(self.best_manager, checkpoint_number=self.step)
                write_best_record(self.best_manager, rank, self.step, scores)
        print(f"\nvalidation at {self.stage} step {self.step}: mean PSNR gain {gain:+.3f} dB"
              + ("" if rank[0] else ", not above identity on every set")
              + (" (best so far)" if improved and self.best_manager is not None else "")
              + "\n" + "\n".join(lines), flush=True)
        if self.patience_spent():
            self.model.stop_training = True
            print(f"no better model in {self.patience} validations: {self.stage} stage stops early at step "
                  f"{self.step} (best: step {self.best_step}, {self.best_rank[1]:+.3f} dB)", flush=True)


SCORE_NAMES = ("psnr", "ssim", "identity_psnr", "identity_ssim", "level_free_psnr", "identity_level_free_psnr")
BEST_FILE = "best.json"


def read_best_record(folder: str | Path) -> dict | None:
    """The ``best.json`` of a best-checkpoint folder: rank, step, checkpoint and the scores per set
    (records written before scores were kept have none), or None when no model was saved."""
    path = Path(folder) / BEST_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def best_record(manager: tf.train.CheckpointManager | None) -> tuple[tuple[bool, float], int | None]:
    """The rank (``model_rank``) and step of the best model saved so far (lowest rank and None when
    none; a record written before ranks had ``beats_identity`` counts as not beating it)."""
    record = read_best_record(manager.directory) if manager is not None else None
    if record is None:
        return (False, -math.inf), None
    return (bool(record.get("beats_identity", False)), float(record["mean_psnr_gain"])), int(record["step"])


def write_best_record(manager: tf.train.CheckpointManager, rank: tuple[bool, float], step: int,
                      scores: dict) -> None:
    atomic_write(Path(manager.directory) / BEST_FILE,
                 json.dumps({"beats_identity": rank[0], "mean_psnr_gain": rank[1], "step": step,
                             "checkpoint": manager.latest_checkpoint, "scores": scores}) + "\n")


class AdversarialWarmup(_StageCallback):
    """Adversarial weight 0 for ``warmup`` steps, then a linear ramp to ``weight`` over as many steps."""

    def __init__(self, stage, optimizer, variable, weight: float, warmup: int):
        super().__init__(stage, optimizer)
        self.variable, self.weight, self.warmup = variable, weight, max(warmup, 1)

    def on_train_batch_begin(self, batch, logs=None):
        ramp = min(max((self.step - self.warmup) / self.warmup, 0.0), 1.0)
        self.variable.assign(self.weight * ramp)


class GeneratorEMA(keras.callbacks.Callback):
    """Exponential moving average of the generator's weights, kept in a second generator.

    Updated after each step in cross-replica context, which works under every tf.distribute strategy.
    """

    def __init__(self, generator: keras.Model, average: keras.Model, decay: float):
        super().__init__()
        self.pairs = list(zip(average.weights, generator.weights))
        self.decay = decay

    @tf.function
    def _update(self):
        for average, current in self.pairs:
            average.assign(self.decay * average + (1.0 - self.decay) * current)

    def on_train_batch_end(self, batch, logs=None):
        self._update()
