import csv
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_pair_folder

from rrgan import losses
from rrgan.cli import train_main
from rrgan.config import preset
from rrgan.errors import RRGANError, Stopped
from rrgan.metrics import psnr_ssim
from rrgan.models import build_networks
from rrgan.training import callbacks as cb
from rrgan.training.callbacks import TrainingDiverged
from rrgan.training.run import train
from rrgan.training.trainers import AuxiliaryTrainer, GANTrainer

FAST = ["data.default_photos=12", "data.default_photo_size=64", "data.crop_size=48", "train.batch_size=2",
        "train.validation_every=1000", "train.sample_every=1000"]


def _one_pair(seed=0, size=48):
    from rrgan.config import SynthesisConfig
    from rrgan.data.default import draw_scene
    from rrgan.data.synthesis import synthesize

    scenes = [tf.constant(draw_scene(seed + i, size), tf.float32) / 255.0 for i in range(2)]
    image, target, _ = synthesize(*scenes, tf.constant([seed, 0]), SynthesisConfig(recipes=("ceilnet",)))
    return image.numpy()[None], target.numpy()[None]


def test_one_pair_overfits():
    config = preset("tiny").override(["loss.adversarial=0", "train.generator_learning_rate=2e-3"])
    networks = build_networks(config.model)
    trainer = GANTrainer(networks, config.loss)
    trainer.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(1e-4))
    image, target = _one_pair()
    before = float(psnr_ssim(networks.remove_reflection(image)["transmission"], target)[0][0])
    dataset = tf.data.Dataset.from_tensors({"input": image[0], "target": target[0]}).repeat().batch(1)
    trainer.fit(dataset, steps_per_epoch=60, epochs=1, shuffle=False, verbose=0)
    after = float(psnr_ssim(networks.remove_reflection(image)["transmission"], target)[0][0])
    assert after > before + 3.0, (before, after)



def test_the_detail_term_joins_the_generator_total_at_its_weight():
    image, target = _one_pair()
    networks = build_networks(preset("tiny").model)
    outputs = networks.remove_reflection(image)

    def logged(*overrides):
        config = preset("tiny").override(["loss.adversarial=0", *overrides])
        return {k: float(v) for k, v in GANTrainer(networks, config.loss).generator_losses(target, outputs).items()}

    without, weighted = logged(), logged("loss.detail=2", "loss.detail_size=7")
    expected = float(losses.detail_loss(outputs["transmission"], target, 7))
    assert without["detail"] == 0.0 and weighted["detail"] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert weighted["generator_total"] == pytest.approx(without["generator_total"] + 2 * expected, rel=1e-4)


@pytest.mark.parametrize("adversarial", [0.0, 0.01])
def test_discriminator_trains_only_with_an_adversarial_term(adversarial):
    config = preset("tiny").override([f"loss.adversarial={adversarial}"])
    networks = build_networks(config.model)
    trainer = GANTrainer(networks, config.loss)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    before = [w.copy() for w in networks.discriminator.get_weights()]
    image, target = _one_pair()
    logs = trainer.train_step({"input": tf.constant(image), "target": tf.constant(target)})
    changed = any(not np.array_equal(a, b) for a, b in zip(before, networks.discriminator.get_weights()))
    assert changed == (adversarial > 0)
    assert ("discriminator_total" in logs) == ("adversarial" in logs) == (adversarial > 0)
    assert np.isfinite(float(logs["generator_total"]))


def test_discriminator_joins_at_the_decay_with_adversarial_phase_decay(tmp_path, capsys):
    """The cpu-long recipe in one run: a constant rate without the discriminator, then the decay with it."""
    config = preset("tiny").override(FAST + [
        "train.aux_steps=1", "train.gan_steps=4", "train.log_every=1", "train.learning_rate_schedule=wsd",
        "train.decay_fraction=0.5", "train.adversarial_phase=decay", "train.adversarial_warmup_steps=1",
        "loss.adversarial=0.01"])
    train(config, tmp_path)
    with open(tmp_path / "losses.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["stage"] == "gan"]
    steps_with = {name: sorted({int(row["step"]) for row in rows if row["name"] == name})
                  for name in ("generator_total", "discriminator_total", "adversarial")}
    assert steps_with["generator_total"] == [1, 2, 3, 4]
    assert steps_with["discriminator_total"] == steps_with["adversarial"] == [3, 4]
    assert "gan step 2: the decay, with the discriminator" in capsys.readouterr().out


def test_auxiliary_stage_learns_edges_and_attention():
    config = preset("tiny")
    networks = build_networks(config.model)
    trainer = AuxiliaryTrainer(networks, config.loss)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    image, target = _one_pair(seed=3)
    dataset = tf.data.Dataset.from_tensors({"input": image[0], "target": target[0]}).repeat().batch(1)

    def auxiliary_losses():
        guidance = networks.guidance(image)
        return losses.auxiliary_losses(guidance["attention_maps"], guidance["edge"], image, target, config.loss)

    first = auxiliary_losses()
    trainer.fit(dataset, steps_per_epoch=40, epochs=1, shuffle=False, verbose=0)
    last = auxiliary_losses()
    assert float(last["attention"]) < 0.7 * float(first["attention"])
    assert float(last["edge"]) < float(first["edge"])


def test_run_writes_everything_and_resumes(tmp_path):
    config = preset("tiny").override(FAST + ["train.aux_steps=4", "train.gan_steps=6", "train.log_every=2",
                                             "train.checkpoint_every=3", "train.sample_every=3"])
    result = train(config, tmp_path, progress=False)
    assert (result.aux_step, result.gan_step) == (4, 6)
    assert set(result.validation) == {"validation"}  # the embedded default's held-out pairs
    assert set(result.validation["validation"]) == {"psnr", "ssim", "identity_psnr", "identity_ssim",
                                                    "level_free_psnr", "identity_level_free_psnr"}
    for name in ("config.json", "losses.csv", "validation.csv", "checkpoints/checkpoint",
                 "checkpoints/best/best.json", "export/rrgan/10/saved_model.pb"):
        assert (tmp_path / name).exists(), name
    validation_rows = list(csv.DictReader((tmp_path / "validation.csv").open()))
    assert [(r["step"], r["set"]) for r in validation_rows] == [("6", "validation")]
    assert (tmp_path / "samples" / "gan_000006.png").exists()
    assert list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    rows = list(csv.DictReader((tmp_path / "losses.csv").open()))
    assert {(r["stage"], r["step"]) for r in rows} >= {("aux", "2"), ("aux", "4"), ("gan", "2"), ("gan", "6")}
    # more steps in the same work dir continue from the checkpoint
    longer = config.override(["train.gan_steps=8"])
    resumed = train(longer, tmp_path, progress=False)
    assert (resumed.aux_step, resumed.gan_step) == (4, 8)
    gan_rows = [r for r in csv.DictReader((tmp_path / "losses.csv").open()) if r["stage"] == "gan"]
    assert max(int(r["step"]) for r in gan_rows) == 8


LITE = ["model.backbone_stages=2", "model.backbone=efficientnet_lite0", "loss.perceptual=0.1",
        "loss.perceptual_weights=efficientnet_lite0"]


def test_efficientnet_lite_stays_frozen_in_both_stages():
    config = preset("tiny").override(["loss.adversarial=0"] + LITE)
    networks = build_networks(config.model)
    perceptual = losses.build_perceptual_features(config.loss.perceptual_weights)
    assert not networks.backbone.trainable_weights and not perceptual.trainable_weights
    aux = AuxiliaryTrainer(networks, config.loss)
    aux.compile(optimizer=keras.optimizers.Adam(1e-3))
    gan = GANTrainer(networks, config.loss, perceptual)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    before = [w.copy() for w in networks.backbone.get_weights() + perceptual.get_weights()]
    generator_before = [w.copy() for w in networks.generator.get_weights()]
    image, target = _one_pair()
    batch = {"input": tf.constant(image), "target": tf.constant(target)}
    assert np.isfinite(float(aux.train_step(batch)["aux_total"]))
    logs = gan.train_step(batch)
    assert float(logs["perceptual"]) > 0 and np.isfinite(float(logs["generator_total"]))
    for old, new in zip(before, networks.backbone.get_weights() + perceptual.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert any(not np.array_equal(a, b) for a, b in zip(generator_before, networks.generator.get_weights()))


def test_efficientnet_lite_run_exports_and_reloads_without_saving_the_backbone(tmp_path):
    """The backbone comes from the package's file in every loader; its weights are in the
    SavedModel but never in a checkpoint or a weights folder."""
    from rrgan.export import SERVING_SIGNATURE, ServingBundle, find_saved_model, save_weights
    from rrgan.inference import load_model, load_networks

    config = preset("tiny").override(FAST + ["train.aux_steps=2", "train.gan_steps=2"] + LITE)
    train(config, tmp_path, progress=False)
    networks = load_networks(tmp_path, "float32")
    checkpoint = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "checkpoints")))
    saved = [checkpoint.get_tensor(name) for name in checkpoint.get_variable_to_shape_map()]
    for weight in networks.backbone.get_weights():
        assert not any(np.shape(tensor) == weight.shape and np.array_equal(tensor, weight) for tensor in saved)
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (1, 37, 29, 3), dtype=np.uint8))
    expected = ServingBundle(networks).serve(images)["transmission"].numpy()
    exported = tf.saved_model.load(str(find_saved_model(tmp_path / "export" / "rrgan")))
    reloaded = exported.signatures[SERVING_SIGNATURE](images=images)["transmission"].numpy()
    assert np.abs(reloaded.astype(int) - expected.astype(int)).max() <= 1
    folder = save_weights(networks, config, tmp_path / "weights")
    assert sum(path.stat().st_size for path in folder.iterdir()) < 2 ** 20  # tiny nets only, no backbone
    np.testing.assert_array_equal(load_model(folder, "float32")(images)["transmission"].numpy(), expected)


def test_diverging_loss_stops_with_a_clear_message(tmp_path):
    config = preset("tiny").override(FAST + ["train.aux_steps=30", "train.aux_learning_rate=1e12",
                                             "train.checkpoint_every=1", "train.log_every=1"])
    with pytest.raises(TrainingDiverged, match="became"):
        train(config, tmp_path, stages=("aux",), progress=False)
    checkpoints = tf.train.CheckpointManager(tf.train.Checkpoint(), str(tmp_path / "checkpoints"), 5)
    assert checkpoints.latest_checkpoint is not None


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "nothing"), "--workdir", str(tmp_path / "w")]) == 2
    assert "nothing: no such file or folder" in capsys.readouterr().err
    assert train_main(["--set", "train.batch_sise=3", "--workdir", str(tmp_path / "w")]) == 2
    assert "train.batch_sise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_main(["--stage", "everything"])


def _train_command(workdir, steps, *extra):
    sets = [arg for item in FAST + ["train.checkpoint_every=2", "train.log_every=2"] for arg in ("--set", item)]
    entry = "from rrgan.cli import train_main; raise SystemExit(train_main())"
    return [sys.executable, "-c", entry, "--workdir", str(workdir), "--quiet", "--stage", "gan",
            "--steps", str(steps), *sets, *extra]


def _last_logged_step(workdir):
    try:
        return max(int(r["step"]) for r in csv.DictReader((workdir / "losses.csv").open()))
    except (FileNotFoundError, ValueError):
        return 0


def test_killed_run_resumes_to_the_same_final_step(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(_train_command(tmp_path, 5000, "--preset", "tiny"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while _last_logged_step(tmp_path) < 6 and time.time() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 6 <= _last_logged_step(tmp_path) < 5000
    finished = subprocess.run(_train_command(tmp_path, 12), env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "resuming with" in finished.stdout
    assert "stage 2 (gan) at step 12" in finished.stdout


def _logged_steps(workdir, stage, name):
    return [int(r["step"]) for r in csv.DictReader((workdir / "losses.csv").open())
            if r["stage"] == stage and r["name"] == name]


def test_sigterm_saves_the_step_and_the_resume_loses_and_repeats_none(tmp_path):
    """SIGTERM to a real rrgan-train mid-stage: one line, status 128 + 15, a checkpoint at the step
    it stopped at; the resumed run logs every step once (log_every=1: one row per step)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    every_step = ["--set", "train.log_every=1", "--set", "train.checkpoint_every=1000"]  # only the stop saves
    process = subprocess.Popen(_train_command(tmp_path, 5000, "--preset", "tiny", *every_step), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while _last_logged_step(tmp_path) < 3 and time.time() < deadline:
        assert process.poll() is None, "training ended before it could be stopped"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    stopped = re.fullmatch(r"rrgan-train: gan stage stopped by SIGTERM at step (\d+): checkpoint saved in "
                           r"(.+); the same command resumes from there", message)
    assert stopped, message
    step = int(stopped.group(1))
    assert 3 <= step < 5000 and Path(stopped.group(2)) == tmp_path / "checkpoints"
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    iterations = [name for name, _ in tf.train.list_variables(latest)
                  if name.startswith("generator_optimizer/") and "iterations" in name]
    assert int(tf.train.load_variable(latest, iterations[0])) == step
    assert _logged_steps(tmp_path, "gan", "generator_total") == list(range(1, step + 1))

    finished = subprocess.run(_train_command(tmp_path, step + 3, *every_step), env=env, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert f"stage 2 (gan) at step {step + 3}" in finished.stdout
    assert _logged_steps(tmp_path, "gan", "generator_total") == list(range(1, step + 4))


def test_sigint_stops_after_the_step_in_progress_and_restores_the_handler(tmp_path, monkeypatch):
    logged = cb.LossLog.on_train_batch_end

    def interrupted_at_step_3(self, batch, logs=None):
        logged(self, batch, logs)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cb.LossLog, "on_train_batch_end", interrupted_at_step_3)
    handler = signal.getsignal(signal.SIGINT)
    config = preset("tiny").override(FAST + ["train.aux_steps=50", "train.log_every=1", "train.checkpoint_every=1000"])
    with pytest.raises(Stopped, match="aux stage stopped by SIGINT at step 4: checkpoint saved") as stopped:
        train(config, tmp_path, stages=("aux",), progress=False)
    assert stopped.value.signal_number == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is handler
    monkeypatch.undo()
    assert train(config.override(["train.aux_steps=6"]), tmp_path, stages=("aux",), progress=False).aux_step == 6
    assert _logged_steps(tmp_path, "aux", "aux_total") == [1, 2, 3, 4, 5, 6]


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (as root, where mount works), else None: the work dir's own disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
                                                       capture_output=True).returncode == 0
    yield disk if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_at_a_checkpoint_is_named_and_the_last_checkpoint_kept(tmp_path, small_disk, monkeypatch):
    """After the first checkpoint the disk fills (on a small tmpfs: a file takes all but 256 KB of
    it; elsewhere the write fails with ENOSPC as a full disk makes it), so the second one fails."""
    workdir = (small_disk or tmp_path) / "run"
    save, saved = tf.train.CheckpointManager.save, []

    def fill_after_the_first(manager, *args, **kwargs):
        if saved and small_disk is None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        saved.append(save(manager, *args, **kwargs))
        if small_disk is not None:
            (small_disk / "filler").write_bytes(bytes(shutil.disk_usage(small_disk).free - 256 * 1024))
        return saved[-1]

    monkeypatch.setattr(tf.train.CheckpointManager, "save", fill_after_the_first)
    config = preset("tiny").override(FAST + ["train.aux_steps=4", "train.checkpoint_every=2"])
    with pytest.raises(RRGANError, match="No space left on device") as failed:
        train(config, workdir, stages=("aux",), progress=False)
    message = str(failed.value)
    assert message.startswith(f"{workdir / 'checkpoints'}: cannot write a checkpoint")
    assert "MiB free on the disk holding it" in message and f"{saved[0]}, is kept" in message
    monkeypatch.undo()
    if small_disk is not None:
        (small_disk / "filler").unlink()
        assert not list((workdir / "checkpoints").glob("*_temp"))  # the half-written checkpoint is gone
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")) == saved[0]
    assert train(config.override(["train.aux_steps=2"]), workdir, stages=("aux",), progress=False).aux_step == 2


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_multi_worker_mirrored_strategy(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            _train_command(tmp_path, 4, "--preset", "tiny", "--stage", "all"), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=400)[0] for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    assert "stage 2 (gan) at step 4" in outputs[0]
    assert (tmp_path / "checkpoints" / "checkpoint").exists()        # the chief owns the work dir
    assert (tmp_path / "worker_1" / "checkpoints" / "checkpoint").exists()


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_run(tmp_path, precision):
    config = preset("tiny").override(FAST + ["train.aux_steps=2", "train.gan_steps=2", f"train.precision={precision}"])
    result = train(config, tmp_path, progress=False)
    assert (result.aux_step, result.gan_step) == (2, 2)
    assert np.isfinite(result.validation["validation"]["psnr"])
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the policy does not leak


def test_auto_precision_trains_in_bfloat16_only_where_the_cpu_has_it(tmp_path):
    """Emulated bfloat16 trained 2.5x slower than float32 on an Ice Lake Xeon."""
    from rrgan.inference import compute_precision
    from rrgan.training.run import Run

    native = any(flag in Path("/proc/cpuinfo").read_text() for flag in ("avx512_bf16", "amx_bf16"))
    config = preset("tiny").override(FAST + ["train.precision=auto"])
    run = Run(config, tmp_path)
    assert compute_precision("auto") == ("mixed_bfloat16" if native else "float32")
    assert run.networks.generator.dtype_policy.name == compute_precision("auto")
    assert preset("cpu-long").train.precision == "auto"


def test_learning_rate_decays_over_the_stage(tmp_path):
    from rrgan.training.run import Run

    config = preset("tiny").override(FAST + ["train.gan_steps=100", "train.learning_rate_floor=0.1"])
    optimizer = Run(config, tmp_path, progress=False).gan_trainer.generator_optimizer
    rate = optimizer.learning_rate
    start = float(keras.ops.convert_to_numpy(rate))
    optimizer.iterations.assign(100)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.1 * start, rel=1e-4)


def test_best_model_is_kept_and_loaded(tmp_path):
    from rrgan.inference import load_workdir

    config = preset("tiny").override(FAST + ["train.aux_steps=0", "train.gan_steps=4", "train.validation_every=2"])
    result = train(config, tmp_path, progress=False)
    best = json.loads((tmp_path / "checkpoints" / "best" / "best.json").read_text())
    ranks, rows = {}, {}  # one validation set: (beats identity in PSNR and SSIM, PSNR gain) per step
    for row in csv.DictReader((tmp_path / "validation.csv").open()):
        scores = rows[int(row["step"])] = {key: float(row[key]) for key in ("psnr", "ssim", "identity_psnr",
                                                                              "identity_ssim")}
        beats = scores["psnr"] > scores["identity_psnr"] and scores["ssim"] > scores["identity_ssim"]
        ranks[int(row["step"])] = (beats, scores["psnr"] - scores["identity_psnr"])
    assert best["step"] == max(ranks, key=ranks.get)
    assert best["beats_identity"] == ranks[best["step"]][0]
    assert best["mean_psnr_gain"] == pytest.approx(ranks[best["step"]][1], abs=2e-4)
    # the run reports the scores of the model it exports: the best one's, not the last validation's
    assert result.validation_step == best["step"]
    for key, value in rows[best["step"]].items():
        assert result.validation["validation"][key] == pytest.approx(value, abs=1e-4)
    # a record from before scores were kept: the resumed run validates the best checkpoint again
    del best["scores"]
    (tmp_path / "checkpoints" / "best" / "best.json").write_text(json.dumps(best))
    resumed = train(config, tmp_path, progress=False)
    assert resumed.validation_step == best["step"]
    assert resumed.validation["validation"]["psnr"] == pytest.approx(rows[best["step"]]["psnr"], abs=1e-3)
    # the loaded model is the best one, not the last
    from rrgan.checkpoints import best_or_latest

    assert best_or_latest(tmp_path).endswith(f"best/ckpt-{best['step']}")
    assert load_workdir(tmp_path).generator.name == "generator_ema" or config.train.ema_decay == 0


FIRST = FAST + ["train.aux_steps=2", "train.gan_steps=3", "model.generator_width=4"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One tiny finished run that the init and resume tests start from (read-only: copy it to resume)."""
    workdir = tmp_path_factory.mktemp("first")
    train(preset("tiny").override(FIRST), workdir, progress=False)
    return workdir


def test_init_starts_from_trained_networks(tmp_path, first_run):
    from rrgan.inference import load_workdir
    from rrgan.training.run import Run

    trained = load_workdir(first_run)
    run = Run(preset("tiny").override(FIRST), tmp_path / "second", progress=False, init=first_run)
    for name in ("edge_net", "attention_net", "generator", "discriminator"):
        for ours, theirs in zip(getattr(run.networks, name).get_weights(), getattr(trained, name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert run.gan_step == 0  # a new run, not a resume


def test_init_grows_the_networks_by_blocks_or_backbone_features_and_refuses_other_changes(tmp_path, first_run):
    from rrgan.config import ConfigError
    from rrgan.inference import load_workdir
    from rrgan.training.run import Run

    config = preset("tiny").override(FIRST)
    trained = load_workdir(first_run).generator
    grown = Run(config.override(["model.generator_blocks=1"]), tmp_path / "grown", progress=False,
                init=first_run).networks.generator
    for layer in trained.layers:
        for ours, theirs in zip(grown.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    second_conv_kernel = grown.get_layer("bottleneck_block_0").get_weights()[2]
    assert not second_conv_kernel.any()  # the new block starts as the identity
    featured = Run(config.override(["model.backbone_stages=1", "model.backbone=efficientnet_lite0"]),
                   tmp_path / "featured", progress=False, init=first_run).networks
    trained_edge_net = load_workdir(first_run).edge_net
    np.testing.assert_array_equal(featured.edge_net.get_layer("stem").get_weights()[0],
                                  trained_edge_net.get_layer("stem").get_weights()[0])
    assert not featured.generator.get_layer("features_1_projection").get_weights()[0].any()
    with pytest.raises(ConfigError, match="generator_blocks"):
        Run(config.override(["model.generator_width=16"]), tmp_path / "wider", progress=False, init=first_run)


def test_init_with_another_attention_net_keeps_the_other_networks_and_trains_it_from_the_start(tmp_path, first_run):
    from rrgan.config import ConfigError
    from rrgan.inference import load_workdir

    config = preset("tiny").override(FIRST + ["model.attention_width=4", "train.aux_steps=1"])
    with pytest.raises(ConfigError, match="stage aux"):  # an untrained Attention-net would feed stage 2
        train(config, tmp_path / "unguided", stages=("gan",), progress=False, init=first_run)
    result = train(config, tmp_path / "new_attention", stages=("aux",), progress=False, init=first_run)
    assert result.aux_step == 1
    trained, tuned = load_workdir(first_run), load_workdir(tmp_path / "new_attention")
    for ours, theirs in zip(tuned.generator.get_weights(), trained.generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert tuned.attention_net.get_layer("stem").get_weights()[0].shape[-1] == 4


def test_resuming_a_fine_tune_never_retrains_its_auxiliary_nets(tmp_path, first_run):
    from rrgan.inference import load_workdir

    config = preset("tiny").override(FIRST + ["train.gan_steps=2"])
    train(config, tmp_path / "tuned", stages=("gan",), progress=False, init=first_run)
    edge_net = load_workdir(tmp_path / "tuned").edge_net.get_weights()
    resumed = train(config.override(["train.gan_steps=3"]), tmp_path / "tuned", progress=False)
    assert (resumed.aux_step, resumed.gan_step) == (0, 3)  # both stages asked: stage 2 goes on
    for now, before in zip(load_workdir(tmp_path / "tuned").edge_net.get_weights(), edge_net):
        np.testing.assert_array_equal(now, before)
    assert train(config, tmp_path / "tuned", stages=("aux",), progress=False).aux_step == 2  # asked alone: it runs


def test_init_from_the_cli_takes_the_model_section_of_the_weights(tmp_path, capsys, first_run):
    from rrgan.config import Config

    sets = [arg for item in FAST + ["train.aux_steps=0"] for arg in ("--set", item)]
    assert train_main(["--init", str(first_run), "--workdir", str(tmp_path / "tuned"), "--quiet",
                       "--steps", "2", *sets]) == 0
    assert Config.load(tmp_path / "tuned" / "config.json").model.generator_width == 4
    assert train_main(["--init", str(tmp_path / "missing"), "--workdir", str(tmp_path / "x")]) == 2
    assert "missing" in capsys.readouterr().err


def test_resume_without_data_reuses_the_runs_data(tmp_path):
    from rrgan.data.default import write_default_photos

    photos = write_default_photos(tmp_path / "my_photos", count=6, size=64)[0].parent
    config = preset("tiny").override(FAST + ["train.aux_steps=1", "train.gan_steps=1"])
    train(config, tmp_path / "run", photos=[photos], progress=False)
    resumed = train(config.override(["train.gan_steps=2"]), tmp_path / "run", progress=False)
    assert resumed.gan_step == 2
    assert not (tmp_path / "run" / "default_data").exists()  # did not fall back to the embedded scenes
    assert json.loads((tmp_path / "run" / "sources.json").read_text())["photos"] == [str(photos.resolve())]


def test_photos_that_break_mid_run_are_named_once_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    """After step 2 one photo is truncated and another deleted; without the cache every epoch reads
    them again (a dozen epochs here), yet each is named once and the run reaches its last step."""
    from rrgan.data.default import write_default_photos

    photos = write_default_photos(tmp_path / "photos", count=6, size=64)
    truncated, deleted = photos[1], photos[4]
    logged = cb.LossLog.on_train_batch_end

    def break_two_photos_at_step_2(self, batch, logs=None):
        logged(self, batch, logs)
        if self.step == 2:
            truncated.write_bytes(truncated.read_bytes()[:200])
            deleted.unlink()

    monkeypatch.setattr(cb.LossLog, "on_train_batch_end", break_two_photos_at_step_2)
    config = preset("tiny").override(FAST + ["data.cache=false", "data.shuffle_buffer=4", "train.aux_steps=40",
                                             "train.log_every=1"])
    with caplog.at_level("WARNING", logger="rrgan"):
        result = train(config, tmp_path / "run", photos=[photos[0].parent], stages=("aux",), progress=False)
    assert result.aux_step == 40
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped: ")]
    assert len(skipped) == 2, skipped
    assert sum(str(truncated) in message and "cannot decode" in message for message in skipped) == 1
    assert sum(str(deleted) in message and "cannot read" in message for message in skipped) == 1


def test_python_train_resumes_like_the_cli(tmp_path, first_run):
    from rrgan.config import Config

    workdir = shutil.copytree(first_run, tmp_path / "run")
    resumed = train(None, workdir, progress=False)  # the work dir's config.json, as rrgan-train does
    assert (resumed.aux_step, resumed.gan_step) == (2, 3)
    assert Config.load(workdir / "config.json").model.generator_width == 4


def test_inference_needs_no_plotting_or_tables():
    """rrgan.inference works where pandas and matplotlib cannot be imported. (Keras itself imports
    them when they are installed, so sys.modules alone cannot tell whether rrgan needs them.)"""
    code = ("import sys; sys.modules['pandas'] = sys.modules['matplotlib'] = None\n"
            "import numpy as np\n"
            "from rrgan.config import preset\n"
            "from rrgan.export import ServingBundle\n"
            "from rrgan.inference import remove_reflections\n"
            "from rrgan.models import build_networks\n"
            "model = ServingBundle(build_networks(preset('tiny').model)).serve\n"
            "print(remove_reflections(model, np.zeros((9, 7, 3), np.uint8))['transmission'].shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(9, 7, 3)"


def test_logs_that_are_not_a_terminal_get_one_line_per_log_interval(tmp_path, capsys):
    config = preset("tiny").override(FAST + ["train.aux_steps=4", "train.gan_steps=4", "train.log_every=2"])
    train(config, tmp_path, progress=True)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = [line for line in out.splitlines() if " step " in line and "images/s" in line]
    assert [line.split(":")[0] for line in lines] == ["aux step 2/4", "aux step 4/4", "gan step 2/4", "gan step 4/4"]
    assert all("left" in line and "aux_total" in line for line in lines[:2])


def test_a_run_written_by_rrgan_0_1_still_loads_and_resumes(tmp_path):
    """tests/data/run_v0.1: a tiny run (config.json with the old train.mixed_precision key, and a
    checkpoint at aux step 2 / gan step 2) written by rrgan 0.1 before the code was reorganised."""
    import shutil

    from rrgan.inference import load_workdir

    workdir = shutil.copytree(Path(__file__).parent / "data" / "run_v0.1", tmp_path / "run")
    networks = load_workdir(workdir)
    output = networks.remove_reflection(np.zeros((1, 16, 16, 3), "float32"))["transmission"]
    assert output.shape == (1, 16, 16, 3)
    resumed = train(None, workdir, progress=False, stages=("gan",))  # the run's own config
    assert (resumed.aux_step, resumed.gan_step) == (2, 2)  # restored, nothing left to train
    sets = [arg for item in ["train.gan_steps=3"] for arg in ("--set", item)]
    assert train_main(["--workdir", str(workdir), "--quiet", "--stage", "gan", *sets]) == 0


def test_stage_two_stops_early_when_validation_stops_improving(tmp_path, capsys):
    # A zero learning rate: every validation scores the same model, so none after the first is better.
    config = preset("tiny").override(FAST + ["train.aux_steps=0", "train.gan_steps=20", "train.validation_every=1",
                                             "train.checkpoint_every=100", "train.generator_learning_rate=0",
                                             "train.early_stop_patience=2"])
    result = train(config, tmp_path, progress=False)
    assert result.gan_step == 3  # best at step 1, then two validations without a better model
    assert "stops early at step 3 (best: step 1" in capsys.readouterr().out
    steps = [int(row["step"]) for row in csv.DictReader((tmp_path / "validation.csv").open())]
    assert steps == [1, 2, 3]

    # the stage's end was checkpointed (else this would restart at step 0), and it does not train on
    assert train(None, tmp_path, progress=False).gan_step == 3
    assert "not resumed" in capsys.readouterr().out


def test_early_stop_patience_must_not_be_negative():
    from rrgan.config import ConfigError

    with pytest.raises(ConfigError, match="early_stop_patience"):
        preset("tiny").override(["train.early_stop_patience=-1"])


def test_progress_lines_leave_validation_time_out_of_the_speed(capsys):
    from rrgan.training.callbacks import ProgressLines

    class Optimizer:
        iterations = tf.Variable(0, dtype=tf.int64)

    lines = ProgressLines("gan", Optimizer(), total_steps=4, batch_size=8, every=2)
    for _ in range(4):
        lines.on_train_batch_begin(0)
        time.sleep(0.01)  # the training step
        Optimizer.iterations.assign_add(1)
        lines.on_train_batch_end(0)
        time.sleep(0.3)  # a validation run by a later callback
    speeds = [float(line.split("| ")[1].split(" images/s")[0]) for line in capsys.readouterr().out.splitlines()]
    assert len(speeds) == 2
    assert min(speeds) > 8 / 0.1  # counting the 0.3 s pauses would give under 8 / 0.3


def test_wsd_schedule_holds_the_rate_then_decays_over_its_last_fraction(tmp_path):
    from rrgan.training.run import Run

    config = preset("tiny").override(FAST + ["train.gan_steps=100", "train.learning_rate_schedule=wsd",
                                             "train.decay_fraction=0.2", "train.learning_rate_floor=0.1"])
    optimizer = Run(config, tmp_path, progress=False).gan_trainer.generator_optimizer
    start = config.train.generator_learning_rate

    def rate_at(step):
        optimizer.iterations.assign(step)
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    assert [rate_at(s) for s in (0, 50, 80)] == pytest.approx([start] * 3, rel=1e-5)
    assert rate_at(90) == pytest.approx(0.55 * start, rel=1e-4)
    assert rate_at(100) == pytest.approx(0.1 * start, rel=1e-4)
    assert rate_at(150) == pytest.approx(0.1 * start, rel=1e-4)


def test_a_validation_set_that_is_trained_on_is_scored_on_its_held_out_pairs(tmp_path):
    from rrgan.training.run import validation_sets

    make_pair_folder(tmp_path / "train" / "real", [f"p{i:02d}" for i in range(30)], size=(12, 12))
    make_pair_folder(tmp_path / "val", ["v0", "v1", "v2"], size=(12, 12))
    config = preset("tiny").override(["data.pair_holdout=0.3"])
    sets = validation_sets([str(tmp_path / "train" / "real"), str(tmp_path / "val")], [str(tmp_path / "train")],
                           config)
    assert list(sets) == ["real_holdout", "val"]
    held = [e["name"][0].decode() for e in sets["real_holdout"].as_numpy_iterator()]
    assert 0 < len(held) < 30 and [e["name"][0].decode() for e in sets["val"].as_numpy_iterator()] == [
        "v0", "v1", "v2"]
    with pytest.raises(RRGANError, match="is a training set"):
        validation_sets([str(tmp_path / "train" / "real")], [str(tmp_path / "train")], preset("tiny"))


def test_a_log_begun_with_fewer_columns_keeps_them_when_resumed(tmp_path):
    from rrgan.files import append_csv

    log = tmp_path / "validation.csv"
    append_csv(log, ["step", "psnr"], [[1, 20.0]])
    append_csv(log, ["step", "psnr", "level_free_psnr"], [[2, 21.0, 22.0]])
    assert list(csv.DictReader(log.open())) == [{"step": "1", "psnr": "20.0"}, {"step": "2", "psnr": "21.0"}]
    append_csv(tmp_path / "new.csv", ["step", "psnr", "level_free_psnr"], [[2, 21.0, 22.0]])
    assert list(csv.DictReader((tmp_path / "new.csv").open())) == [
        {"step": "2", "psnr": "21.0", "level_free_psnr": "22.0"}]
