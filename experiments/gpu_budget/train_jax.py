"""Stage 2 of rrgan's recipe on a GPU without TensorFlow: Keras on JAX, data made on the GPU.

A measurement, not the product's trainer (that is ``rrgan-train``): does a training budget many
times what a 2-core CPU affords teach the generator to take out strong reflections? The networks
and losses are rrgan's own (``rrgan.models``, ``rrgan.losses``: keras.ops, any backend); the
Edge-net and Attention-net are the shipped ones, frozen; the generator starts from scratch and
trains on the pairs and photos of ``pack.py``'s file, with reflections synthesized on the GPU by
the three recipes of ``rrgan.data.synthesis`` (ported to jax.numpy below). No discriminator.
EMA snapshots of the generator land in ``--out`` as ``NAME_STEP.npz`` files; ``assemble.py``
turns one into a weights folder that the TensorFlow package loads (``rrgan-eval --model``).

    KERAS_BACKEND=jax python experiments/gpu_budget/train_jax.py --data .gpu/data.npz \
        --out $OUT --seconds 330
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from packed import decode_all  # noqa: E402
from PIL import Image  # noqa: E402

from rrgan import losses  # noqa: E402
from rrgan.config import SynthesisConfig, preset  # noqa: E402
from rrgan.layers import dtype_policy  # noqa: E402
from rrgan.models import build_networks  # noqa: E402

GAMMA = 2.2
MAX_SIGMA = 5.0  # the largest blur of every recipe's default range: fixes the kernel's size


# ---- data: decoded once, kept on the GPU as uint8 --------------------------------------------

def random_window(image, key, crop: int, scale_range: tuple[float, float]):
    """A random square of side crop / scale (clipped to the image) resized to ``crop``, maybe
    flipped: ``rrgan.data.pipeline.random_window`` for one square image [S, S, C] in [0, 1]."""
    size = image.shape[0]
    k_scale, k_y, k_x, k_flip = jax.random.split(key, 4)
    window = jnp.minimum(crop / jax.random.uniform(k_scale, (), minval=scale_range[0], maxval=scale_range[1]), size)
    top = jax.random.uniform(k_y) * (size - window)
    left = jax.random.uniform(k_x) * (size - window)
    factor = crop / window
    patch = jax.image.scale_and_translate(image, (crop, crop, image.shape[2]), (0, 1), jnp.stack([factor, factor]),
                                          jnp.stack([-top * factor, -left * factor]), "linear", antialias=True)
    return jnp.where(jax.random.bernoulli(k_flip), patch[:, ::-1], patch)


# ---- synthesis: rrgan.data.synthesis in jax.numpy, one image [H, W, 3] at a time (vmapped) ----

def gaussian_blur(image, sigma):
    radius = int(np.ceil(3 * MAX_SIGMA))
    x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    kernel = jnp.exp(-0.5 * jnp.square(x / sigma))
    kernel = kernel / jnp.sum(kernel)
    padded = jnp.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    vertical = jax.vmap(lambda column: jnp.convolve(column, kernel, mode="valid"), in_axes=1, out_axes=1)
    horizontal = jax.vmap(lambda row: jnp.convolve(row, kernel, mode="valid"), in_axes=0, out_axes=0)
    per_channel = [horizontal(vertical(padded[..., c])) for c in range(image.shape[2])]
    return jnp.stack(per_channel, axis=-1)


def overflow_mean(blend, axis=None):
    over = (blend > 1.0).astype(blend.dtype)
    total = jnp.sum(blend * over, axis=axis)
    count = jnp.sum(over, axis=axis)
    return jnp.maximum(1.0, jnp.where(count > 0, total / jnp.maximum(count, 1.0), 1.0))


def vignette(shape, key):
    height, width = shape[0], shape[1]
    k_centre, k_spread = jax.random.split(key)
    centre = jax.random.uniform(k_centre, (2,)) * jnp.array([height, width], jnp.float32)
    spread = jax.random.uniform(k_spread, (), minval=0.5, maxval=1.0) * max(height, width)
    ys = jnp.arange(height, dtype=jnp.float32)[:, None] - centre[0]
    xs = jnp.arange(width, dtype=jnp.float32)[None, :] - centre[1]
    return jnp.exp(-(ys ** 2 + xs ** 2) / (2.0 * spread ** 2))[..., None]


def uniform(key, bounds):
    return jax.random.uniform(key, (), minval=bounds[0], maxval=bounds[1])


def zhang2018(t, r, key, config: SynthesisConfig):
    keys = jax.random.split(key, 4)
    t_linear, r_linear = t ** GAMMA, r ** GAMMA
    r_blur = gaussian_blur(r_linear, uniform(keys[0], config.zhang_sigma))
    r_blur = r_blur - (overflow_mean(r_blur + t_linear, axis=(0, 1)) - 1.0) * uniform(keys[1], (1.08, 1.18))
    r_layer = jnp.clip(r_blur, 0.0, 1.0) * vignette(t.shape, keys[2])
    t_layer = uniform(keys[3], config.zhang_alpha) * t_linear
    blend = jnp.clip(t_layer + r_layer, 0.0, 1.0)
    return blend ** (1 / GAMMA), t_layer ** (1 / GAMMA)


def additive_with_overflow_fix(t, r_blur, gain):
    r_layer = jnp.clip(r_blur - gain * (overflow_mean(t + r_blur) - 1.0), 0.0, 1.0)
    return jnp.clip(t + r_layer, 0.0, 1.0)


def ceilnet(t, r, key, config: SynthesisConfig):
    r_blur = gaussian_blur(r, uniform(key, config.ceilnet_sigma))
    return additive_with_overflow_fix(t, r_blur, config.ceilnet_overflow_gain), t


def dsrnet(t, r, key, config: SynthesisConfig):
    keys = jax.random.split(key, 4)
    t_layer = uniform(keys[0], config.dsrnet_transmission_scale) * t
    r_blur = uniform(keys[1], config.dsrnet_reflection_scale) * gaussian_blur(r, uniform(keys[2], config.dsrnet_sigma))
    screen = jnp.clip(t_layer + r_blur - t_layer * r_blur, 0.0, 1.0)
    additive = additive_with_overflow_fix(t_layer, r_blur, config.ceilnet_overflow_gain)
    return jnp.where(uniform(keys[3], (0.0, 1.0)) < config.dsrnet_screen_probability, screen, additive), t_layer


RECIPES = {"zhang": zhang2018, "ceilnet": ceilnet, "dsrnet": dsrnet}


def synthesize(t, r, key, config: SynthesisConfig):
    """(I, T) as ``rrgan.data.synthesis.synthesize`` blends them, the recipe picked at random."""
    k_pick, k_recipe, k_strength = jax.random.split(key, 3)
    r = r * uniform(k_strength, config.reflection_strength)
    results = [RECIPES[name](t, r, k_recipe, config) for name in config.recipes]
    pick = jax.random.randint(k_pick, (), 0, len(results))
    image = jnp.select([pick == i for i in range(len(results))], [res[0] for res in results])
    target = jnp.select([pick == i for i in range(len(results))], [res[1] for res in results])
    return jnp.clip(image, 0.0, 1.0), jnp.clip(target, 0.0, 1.0)


def make_batcher(pairs_in, pairs_target, photos, data_config, batch: int, crop: int):
    """A jitted key -> (input, target) [B, crop, crop, 3]: a ``real_fraction`` share real pairs,
    the rest synthesized from two photos each, a ``clean_fraction`` of those left clean."""
    real = int(round(batch * data_config.real_fraction))
    synthetic = batch - real
    scale_range = data_config.scale_range

    def real_pair(key):
        k_index, k_window = jax.random.split(key)
        index = jax.random.randint(k_index, (), 0, pairs_in.shape[0])
        stack = jnp.concatenate([pairs_in[index], pairs_target[index]], axis=-1).astype(jnp.float32) / 255.0
        patch = random_window(stack, k_window, crop, scale_range)
        return patch[..., :3], patch[..., 3:]

    def synthetic_pair(key):
        k_t, k_r, k_wt, k_wr, k_blend, k_clean = jax.random.split(key, 6)
        t = random_window(photos[jax.random.randint(k_t, (), 0, photos.shape[0])].astype(jnp.float32) / 255.0,
                          k_wt, crop, scale_range)
        r = random_window(photos[jax.random.randint(k_r, (), 0, photos.shape[0])].astype(jnp.float32) / 255.0,
                          k_wr, crop, scale_range)
        image, target = synthesize(t, r, k_blend, data_config.synthesis)
        clean = jax.random.uniform(k_clean) < data_config.clean_fraction
        return jnp.where(clean, target, image), target

    @jax.jit
    def sample(key):
        k_real, k_synthetic = jax.random.split(key)
        parts = [jax.vmap(make)(jax.random.split(k, count))
                 for make, k, count in ((real_pair, k_real, real), (synthetic_pair, k_synthetic, synthetic)) if count]
        return jnp.concatenate([p[0] for p in parts]), jnp.concatenate([p[1] for p in parts])

    return sample


# ---- training ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--name", default="generator", help="the snapshots' file names: NAME_STEP.npz")
    parser.add_argument("--preset", default="cpu-long")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--weights", default="rrgan/pretrained", help="the frozen Edge-net and Attention-net")
    parser.add_argument("--init", help="start the generator from a snapshot (NAME_STEP.npz) instead of scratch")
    parser.add_argument("--seconds", type=float, default=300.0, help="training time after compilation")
    parser.add_argument("--snapshots", type=int, default=3, help="EMA generators saved along the way")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop", type=int, default=192)
    parser.add_argument("--precision", default="mixed_bfloat16")
    args = parser.parse_args()
    config = preset(args.preset).override(args.set)
    train, loss_config = config.train, config.loss
    os.makedirs(args.out, exist_ok=True)

    start = time.time()
    data = np.load(args.data)
    pairs_in, pairs_target, photos = (jnp.asarray(decode_all(data, key)) for key in ("input", "target", "photo"))
    photos = jnp.concatenate([photos, pairs_target])  # as rrgan: the pairs' targets are photos too
    print(f"data: {pairs_in.shape[0]} pairs, {photos.shape[0]} photos, {time.time() - start:.0f}s", flush=True)
    sample = make_batcher(pairs_in, pairs_target, photos, config.data, args.batch, args.crop)

    with dtype_policy(args.precision):
        networks = build_networks(config.model)
    networks.edge_net.load_weights(os.path.join(args.weights, "edge_net.weights.h5"))
    networks.attention_net.load_weights(os.path.join(args.weights, "attention_net.weights.h5"))
    generator = networks.generator
    weights = {"pixel": loss_config.pixel, "multiscale": loss_config.multiscale,
               "gradient": loss_config.gradient, "exclusion": loss_config.exclusion}
    adam = optax.scale_by_adam(b1=train.gan_beta_1, b2=0.999)

    def generator_loss(trainable, non_trainable, image, target):
        guidance = jax.lax.stop_gradient(networks.guidance(image))
        inputs = [image, guidance["edge"], guidance["attention_maps"][..., -1:]]
        outputs, non_trainable = generator.stateless_call(trainable, non_trainable, inputs, training=True)
        outputs = {k: v.astype(jnp.float32) for k, v in outputs.items()}
        values = {
            "pixel": losses.pixel_loss(outputs["transmission"], target, loss_config.pixel_norm),
            "multiscale": losses.multiscale_loss(outputs, target),
            "gradient": losses.gradient_loss(outputs["transmission"], target),
            "exclusion": losses.exclusion_loss(outputs["transmission"], outputs["reflection"]),
        }
        total = sum(weights[k] * values[k] for k in weights)
        return total, (non_trainable, values)

    @jax.jit
    def step(state, key, rate):
        trainable, non_trainable, adam_state, average = state
        image, target = sample(key)
        (total, (non_trainable, values)), grads = jax.value_and_grad(generator_loss, has_aux=True)(
            trainable, non_trainable, image, target)
        updates, adam_state = adam.update(grads, adam_state)
        trainable = [w - rate * u for w, u in zip(trainable, updates)]
        decay = train.ema_decay
        average = [decay * a + (1.0 - decay) * w for a, w in zip(average, trainable)]
        return (trainable, non_trainable, adam_state, average), {"total": total, **values}

    if args.init:
        snapshot = np.load(args.init)
        for variable in generator.trainable_variables + generator.non_trainable_variables:
            variable.assign(snapshot[variable.path].astype(np.float32))
    trainable = [v.value for v in generator.trainable_variables]
    non_trainable = [v.value for v in generator.non_trainable_variables]
    state = (trainable, non_trainable, adam.init(trainable), list(trainable))
    key = jax.random.PRNGKey(train.seed)

    def save(name: str, average, non_trainable) -> None:
        """The EMA generator as float16 arrays by variable path: half a weights.h5, so that
        several snapshots fit what the GPU machine sends back."""
        variables = generator.trainable_variables + generator.non_trainable_variables
        np.savez(os.path.join(args.out, name),
                 **{v.path: np.asarray(value, np.float16) for v, value in zip(variables, average + non_trainable)})

    compile_start = time.time()
    state, values = step(state, jax.random.fold_in(key, 0), train.generator_learning_rate)
    jax.block_until_ready(values)
    print(f"compiled in {time.time() - compile_start:.0f}s", flush=True)
    preview_in, preview_target = sample(jax.random.PRNGKey(1))
    rows = [np.concatenate([np.asarray(preview_in[i]), np.asarray(preview_target[i])], axis=1) for i in range(8)]
    Image.fromarray((np.concatenate(rows) * 255).round().astype(np.uint8)).save(
        os.path.join(args.out, f"{args.name}_batch.png"))

    # The schedule runs on the clock: constant until the decay's share of --seconds is left, then
    # linear to the floor over as many steps as the speed measured so far fits in the rest.
    base, floor = train.generator_learning_rate, train.learning_rate_floor
    snapshot_times = [args.seconds * (k + 1) / args.snapshots for k in range(args.snapshots - 1)]
    decay_start, total, i = None, None, 0
    train_start = time.time()
    with open(os.path.join(args.out, f"{args.name}_log.csv"), "w") as log:
        log.write("step,seconds,rate,total,pixel,multiscale,gradient,exclusion\n")
        while total is None or i < total:
            i += 1
            elapsed = time.time() - train_start
            if total is None and elapsed >= args.seconds * (1.0 - train.decay_fraction):
                decay_start, total = i, i + int(i / elapsed * (args.seconds - elapsed))
                print(f"decay from step {decay_start} to {total} ({i / elapsed:.1f} steps/s, "
                      f"{i / elapsed * args.batch:.0f} images/s of {args.crop} px)", flush=True)
            rate = base if total is None else base * (
                1.0 - (1.0 - floor) * (i - decay_start) / max(1, total - decay_start))
            state, values = step(state, jax.random.fold_in(key, i), rate)
            if i % 100 == 0:
                jax.block_until_ready(values)  # keep the clock and the GPU together
            if i % 500 == 0 or i == total:
                values = {k: float(v) for k, v in values.items()}
                log.write(f"{i},{elapsed:.1f},{rate:.3g},{values['total']:.5f},{values['pixel']:.5f},"
                          f"{values['multiscale']:.5f},{values['gradient']:.5f},{values['exclusion']:.5f}\n")
                log.flush()
                print(f"step {i}: loss {values['total']:.4f} pixel {values['pixel']:.4f} rate {rate:.2e} "
                      f"| {elapsed:.0f}s", flush=True)
            if snapshot_times and elapsed >= snapshot_times[0]:
                snapshot_times.pop(0)
                save(f"{args.name}_{i}.npz", state[3], state[1])
                print(f"saved the EMA generator at step {i}", flush=True)
    save(f"{args.name}_{i}.npz", state[3], state[1])
    print(f"done: {i} steps, {args.batch * i} crops, {time.time() - start:.0f}s in all", flush=True)


if __name__ == "__main__":
    main()
