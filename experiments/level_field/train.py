"""Train the level-net prototype on whole-photo views: real pairs, synthetic veils, clean photos.

    python experiments/level_field/train.py --data .gpu/data.npz --steps 3000 -o runs/level/a
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1] / "gpu_budget")]
from level_net import THUMB, apply_field, build_level_net  # noqa: E402
from packed import decode_all  # noqa: E402

CELLS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)


def boxes(count: int, rng: np.random.Generator) -> np.ndarray:
    """Random square windows of 0.6-1 of the side, half of them mirrored."""
    side = rng.uniform(0.6, 1.0, count)
    top, left = rng.uniform(0, 1 - side), rng.uniform(0, 1 - side)
    box = np.stack([top, left, top + side, left + side], 1)
    flip = rng.random(count) < 0.5
    box[flip] = box[flip][:, [0, 3, 2, 1]]
    return box.astype(np.float32)


def crops(images: tf.Tensor, index: np.ndarray, box: np.ndarray) -> tf.Tensor:
    return tf.image.crop_and_resize(tf.cast(tf.gather(images, index), tf.float32) / 255.0, box,
                                    tf.range(len(index)), (THUMB, THUMB))


def veil(reflection: tf.Tensor, cells: int) -> tf.Tensor:
    return tf.image.resize(tf.image.resize(reflection, (cells, cells), "area"), (THUMB, THUMB), "bilinear")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=".gpu/data.npz")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--real", type=float, default=0.5)
    parser.add_argument("--clean", type=float, default=0.15)
    parser.add_argument("--strength", type=float, nargs=2, default=(0.1, 0.7))
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--trainable-backbone", action="store_true")
    parser.add_argument("--jitter", type=float, default=0.0, help="exposure and colour gains of I and T alike, +-")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    data = np.load(args.data)
    real_in, real_target, photos = (tf.constant(decode_all(data, k)) for k in ("input", "target", "photo"))
    print(f"{real_in.shape[0]} pairs, {photos.shape[0]} photos", flush=True)
    n_real, n_clean = round(args.batch * args.real), round(args.batch * args.clean)
    n_synth = args.batch - n_real - n_clean
    model = build_level_net(trainable_backbone=args.trainable_backbone)
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, args.steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function
    def train_step(image, target):
        with tf.GradientTape() as tape:
            output = apply_field(image, model(image, training=False), (THUMB, THUMB))
            per_image = tf.reduce_mean(tf.square(tf.nn.avg_pool2d(output - target, 4, 4, "VALID")), [1, 2, 3])
            loss = tf.reduce_mean(per_image)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        identity = tf.reduce_mean(tf.square(tf.nn.avg_pool2d(image - target, 4, 4, "VALID")), [1, 2, 3])
        return per_image, identity

    rng = np.random.default_rng(0)
    started, history = time.time(), []
    for step in range(1, args.steps + 1):
        real_index = rng.integers(0, real_in.shape[0], n_real)
        box = boxes(n_real, rng)
        images, targets = [crops(real_in, real_index, box)], [crops(real_target, real_index, box)]
        clean = crops(photos, rng.integers(0, photos.shape[0], n_clean), boxes(n_clean, rng))
        images.append(clean)
        targets.append(clean)
        transmission = crops(photos, rng.integers(0, photos.shape[0], n_synth), boxes(n_synth, rng))
        reflection = crops(photos, rng.integers(0, photos.shape[0], n_synth), boxes(n_synth, rng))
        reflection = veil(reflection, int(rng.choice(CELLS)))
        gain = rng.uniform(*args.strength, (n_synth, 1, 1, 1)) * rng.uniform(0.8, 1.2, (n_synth, 1, 1, 3))
        images.append(tf.clip_by_value(transmission + reflection * gain.astype(np.float32), 0.0, 1.0))
        targets.append(transmission)
        gains = (rng.uniform(1 - args.jitter, 1 + args.jitter, (args.batch, 1, 1, 1))
                 * rng.uniform(1 - args.jitter / 2, 1 + args.jitter / 2, (args.batch, 1, 1, 3))).astype(np.float32)
        images, targets = (tf.clip_by_value(tf.concat(x, 0) * gains, 0.0, 1.0) for x in (images, targets))
        loss, identity = train_step(images, targets)
        loss, identity = loss.numpy(), identity.numpy()
        history.append((loss[:n_real].mean(), identity[:n_real].mean(), loss[n_real:n_real + n_clean].mean(),
                        loss[n_real + n_clean:].mean(), identity[n_real + n_clean:].mean()))
        if step % 100 == 0:
            r = np.array(history[-100:]).mean(0)
            print(f"step {step} real {r[0]:.5f} (identity {r[1]:.5f}) clean {r[2]:.5f} "
                  f"synthetic {r[3]:.5f} (identity {r[4]:.5f}) ({time.time() - started:.0f} s)", flush=True)
        if step % 1000 == 0 or step == args.steps:
            model.save_weights(out / "level_net.weights.h5")
            model.save_weights(out / f"level_net_{step}.weights.h5")


if __name__ == "__main__":
    main()
