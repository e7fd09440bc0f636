"""The training stages as ``keras.Model`` subclasses with custom ``train_step`` (Keras GAN idiom).

Batches are dicts from ``rrgan.data.pipeline.training_dataset`` (``rrgan.data.level_views.level_dataset``
for the level stage). Losses are divided by the
number of replicas so that summed gradients under ``tf.distribute`` equal the global mean.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from rrgan import losses
from rrgan.config import LossConfig
from rrgan.models import Networks
from rrgan.models.level_net import learns_mix, toward_field


def _replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


class _Trackers:
    """One running-mean tracker per loss name, created once (Keras needs them at build time)."""

    def __init__(self, names):
        self.by_name = {name: keras.metrics.Mean(name=name) for name in names}

    def update(self, values: dict) -> dict:
        """The running means of this step's losses (a phase without the discriminator logs none of its own)."""
        for name, value in values.items():
            self.by_name[name].update_state(value)
        return {name: self.by_name[name].result() for name in values}


class _StageTrainer(keras.Model):
    """A stage's trainer: one running-mean tracker per loss it logs, which are its metrics."""

    def __init__(self, loss_names, **kwargs):
        super().__init__(**kwargs)
        self.trackers = _Trackers(loss_names)

    @property
    def metrics(self):
        return list(self.trackers.by_name.values())


def _auxiliary_variables(networks: Networks) -> list:
    return networks.attention_net.trainable_variables + networks.edge_net.trainable_variables


class AuxiliaryTrainer(_StageTrainer):
    """Stage 1: Edge-net and Attention-net, supervised by Sobel(T) and the reflection mask of |I - T|."""

    LOSSES = ("aux_total", "attention", "edge")

    def __init__(self, networks: Networks, loss_config: LossConfig, **kwargs):
        super().__init__(self.LOSSES, **kwargs)
        self.edge_net = networks.edge_net
        self.attention_net = networks.attention_net
        self.wiring = networks
        self.loss_config = loss_config

    def train_step(self, batch):
        image, target = batch["input"], batch["target"]
        variables = _auxiliary_variables(self.wiring)
        with tf.GradientTape() as tape:
            guidance = self.wiring.guidance(image, training=True)
            values = losses.auxiliary_losses(guidance["attention_maps"], guidance["edge"], image, target,
                                             self.loss_config)
            scaled = self.optimizer.scale_loss(values["aux_total"] / _replicas())
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return self.trackers.update(values)


class GANTrainer(_StageTrainer):
    """Stage 2: generator against discriminator, the auxiliary nets feeding the generator.

    The auxiliary nets are frozen unless ``fine_tune_aux`` (then ``compile`` needs an
    ``aux_optimizer``, a low rate, and their stage-1 losses are kept). The adversarial weight
    lives in ``adversarial_weight``, a non-trainable variable that a callback ramps up, so the
    warm-up never retraces the step. The discriminator is in the step while ``adversarial`` is
    True: never with ``loss.adversarial`` = 0 (it would train for nothing), and from the decay on
    with ``train.adversarial_phase`` = "decay" (the run sets it per phase; a new step is traced).
    """

    LOSSES = ("generator_total", "pixel", "multiscale", "gradient", "detail", "perceptual", "exclusion")
    ADVERSARIAL_LOSSES = ("adversarial", "discriminator_total", "discriminator_map")

    def __init__(self, networks: Networks, loss_config: LossConfig, perceptual_features: keras.Model | None = None,
                 fine_tune_aux: bool = False, **kwargs):
        if loss_config.perceptual > 0 and perceptual_features is None:
            raise ValueError("loss.perceptual > 0 needs a perceptual feature extractor")
        adversarial = loss_config.adversarial > 0
        super().__init__(self.LOSSES + (self.ADVERSARIAL_LOSSES if adversarial else ())
                         + (AuxiliaryTrainer.LOSSES if fine_tune_aux else ()), **kwargs)
        self.generator = networks.generator
        self.discriminator = networks.discriminator
        self.edge_net = networks.edge_net
        self.attention_net = networks.attention_net
        self.wiring = networks
        self.perceptual_features = perceptual_features
        self.loss_config = loss_config
        self.adversarial_weight = keras.Variable(0.0, trainable=False, name="adversarial_weight")
        self.fine_tune_aux = fine_tune_aux
        self.adversarial = adversarial

    def compile(self, generator_optimizer, discriminator_optimizer, aux_optimizer=None, **kwargs):
        super().compile(**kwargs)
        if self.fine_tune_aux and aux_optimizer is None:
            raise ValueError("fine-tuning the auxiliary nets needs an aux_optimizer")
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.aux_optimizer = aux_optimizer

    def generator_losses(self, target, outputs, real_logits=None, fake_logits=None) -> dict:
        """The generator's losses; the adversarial one only when given the discriminator's logits."""
        config = self.loss_config
        transmission = outputs["transmission"]
        values = {
            "pixel": losses.pixel_loss(transmission, target, config.pixel_norm),
            "multiscale": losses.multiscale_loss(outputs, target),
            "gradient": losses.gradient_loss(transmission, target),
            "detail": (losses.detail_loss(transmission, target, config.detail_size)
                       if config.detail > 0 else tf.constant(0.0)),
            "exclusion": losses.exclusion_loss(transmission, outputs["reflection"]),
            "perceptual": (losses.perceptual_loss(self.perceptual_features, transmission, target)
                           if config.perceptual > 0 else tf.constant(0.0)),
        }
        values["generator_total"] = (
            config.pixel * values["pixel"] + config.multiscale * values["multiscale"]
            + config.gradient * values["gradient"] + config.detail * values["detail"]
            + config.perceptual * values["perceptual"] + config.exclusion * values["exclusion"])
        if real_logits is not None:
            values["adversarial"] = losses.generator_adversarial_loss(real_logits, fake_logits,
                                                                      config.adversarial_kind)
            values["generator_total"] += self.adversarial_weight * values["adversarial"]
        return values

    def train_step(self, batch):
        image, target = batch["input"], batch["target"]
        config = self.loss_config
        with tf.GradientTape(persistent=True) as tape:
            # Forward pass: guidance (frozen unless fine-tuned), generator, discriminator on both.
            guidance = self.wiring.guidance(image, training=self.fine_tune_aux)
            if not self.fine_tune_aux:
                guidance = tf.nest.map_structure(tf.stop_gradient, guidance)
            outputs = self.wiring.generate(image, guidance, training=True)
            if self.adversarial:
                real = self.discriminator(target, training=True)
                fake = self.discriminator(outputs["transmission"], training=True)
                values = self.generator_losses(target, outputs, real["score"], fake["score"])
                values["discriminator_map"] = losses.discriminator_map_loss(
                    real["map"], fake["map"], tf.stop_gradient(guidance["attention_maps"][..., -1:]))
                values["discriminator_total"] = (
                    losses.discriminator_adversarial_loss(real["score"], fake["score"], config.adversarial_kind)
                    + config.discriminator_map * values["discriminator_map"])
                discriminator_loss = self.discriminator_optimizer.scale_loss(
                    values["discriminator_total"] / _replicas())
            else:
                values = self.generator_losses(target, outputs)
            if self.fine_tune_aux:
                values.update(losses.auxiliary_losses(guidance["attention_maps"], guidance["edge"], image, target,
                                                      config))
            generator_loss = self.generator_optimizer.scale_loss(values["generator_total"] / _replicas())
            if self.fine_tune_aux:
                aux_loss = self.aux_optimizer.scale_loss(
                    (values["aux_total"] + values["generator_total"]) / _replicas())

        # Simultaneous updates: every player's gradient comes from the same forward pass (one tape),
        # which halves the cost of a step against alternating passes; the discriminator's small
        # rate and the adversarial warm-up keep the game stable without alternation.
        generator_variables = self.generator.trainable_variables
        self.generator_optimizer.apply(tape.gradient(generator_loss, generator_variables), generator_variables)
        if self.adversarial:
            discriminator_variables = self.discriminator.trainable_variables
            self.discriminator_optimizer.apply(tape.gradient(discriminator_loss, discriminator_variables),
                                               discriminator_variables)
        if self.fine_tune_aux:
            aux_variables = _auxiliary_variables(self.wiring)
            self.aux_optimizer.apply(tape.gradient(aux_loss, aux_variables), aux_variables)
        del tape
        return self.trackers.update(values)


class LevelTrainer(_StageTrainer):
    """The level stage: the Level-net alone, on whole-photo views, by ``losses.level_loss`` between
    the view under its field and the target. It is applied on the whole photo after the other nets
    (``rrgan.level``); with a learned mix it sees their transmission of each view too (the networks
    users get, frozen), and the loss is on the transmission moved by its mix."""

    LOSSES = ("level", "identity_level")

    def __init__(self, networks: Networks, norm: str = "mse", **kwargs):
        super().__init__(self.LOSSES, **kwargs)
        self.networks, self.level_net, self.norm = networks, networks.level_net, norm

    def train_step(self, batch):
        image, target = batch["input"], batch["target"]
        inputs, transmission, mix = image, image, 1.0  # with a fixed mix the field itself learns the target's level
        if learns_mix(self.level_net):  # the generator's level at the thumbnail is close to the full photo's
            transmission = tf.cast(self.networks.remove_reflection(image)["transmission"], tf.float32)
            inputs = [image, transmission]
        variables = self.level_net.trainable_variables
        with tf.GradientTape() as tape:
            output = tf.image.resize(self.level_net(inputs, training=True), tf.shape(image)[1:3], "bilinear")
            loss = losses.level_loss(toward_field(image, transmission, output, mix), target, self.norm)
            scaled = self.optimizer.scale_loss(loss / _replicas())
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        identity = losses.level_loss(transmission, target, self.norm)
        return self.trackers.update({"level": loss, "identity_level": identity})
