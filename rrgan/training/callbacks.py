"""Callbacks that make a run observable and safe: logs, checkpoints, samples, validation, EMA, warm-up.

Steps are counted by the stage's optimizer (``optimizer.iterations``), which is checkpointed, so
logs and files keep their step numbers across a resume.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from rrgan.errors import RRGANError
from rrgan.evaluation import psnr_ssim
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
        new_file = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(["stage", "step", "name", "value"])
            writer.writerows([self.stage, self.step, name, f"{value:.6g}"] for name, value in sorted(logs.items()))
        with self.writer.as_default(step=self.step):
            for name, value in logs.items():
                tf.summary.scalar(f"{self.stage}/{name}", value)
        self.writer.flush()


class _Periodic(_StageCallback):
    """Runs ``act`` every ``every`` steps and when the stage ends (not after a divergence), at most
    once per step."""

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
        if not self.model.stop_training:
            self._act_once()


class PeriodicCheckpoint(_Periodic):
    """Save all nets and optimizers (tf.train.CheckpointManager writes atomically)."""

    def __init__(self, stage, optimizer, manager: tf.train.CheckpointManager, every: int):
        super().__init__(stage, optimizer, every)
        self.manager = manager

    def act(self):
        self.manager.save()


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


def validation_scores(networks: Networks, dataset: tf.data.Dataset) -> dict:
    """Mean PSNR / SSIM (tf.image, after quantizing) of the networks and of the identity baseline."""
    scores = {"psnr": [], "ssim": [], "identity_psnr": [], "identity_ssim": []}
    for example in dataset:
        output = networks.remove_reflection(example["input"])["transmission"]
        psnr, ssim = psnr_ssim(output, example["target"])
        identity_psnr, identity_ssim = psnr_ssim(example["input"], example["target"])
        for name, value in zip(scores, (psnr, ssim, identity_psnr, identity_ssim)):
            scores[name].append(float(value[0]))
    return {name: float(np.mean(values)) for name, values in scores.items()}


class Validation(_Periodic):
    """Scores of the generator on held-out pairs beside the identity baseline, to CSV, TensorBoard
    and the console; the last ones stay in ``scores``."""

    def __init__(self, stage, optimizer, networks: Networks, dataset: tf.data.Dataset, csv_path: Path,
                 tensorboard_dir: Path, every: int):
        super().__init__(stage, optimizer, every)
        self.networks, self.dataset, self.csv_path = networks, dataset, csv_path
        self.writer = tf.summary.create_file_writer(str(tensorboard_dir / "validation"))
        self.scores: dict | None = None

    def act(self):
        scores = self.scores = validation_scores(self.networks, self.dataset)
        new_file = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(["stage", "step", *scores])
            writer.writerow([self.stage, self.step, *(f"{v:.4f}" for v in scores.values())])
        with self.writer.as_default(step=self.step):
            for name, value in scores.items():
                tf.summary.scalar(name, value)
        print(f"\nvalidation at {self.stage} step {self.step}: PSNR {scores['psnr']:.2f} dB, SSIM "
              f"{scores['ssim']:.3f} (identity {scores['identity_psnr']:.2f} dB / {scores['identity_ssim']:.3f})")


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
