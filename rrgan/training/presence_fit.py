"""The presence stage: the Presence-net's head fitted directly on whole photos, then its odds set on
held-out clean photos.

The head is a logistic regression on the Level-net's pooled features (``rrgan.models.presence_net``),
so it is fitted to convergence (L-BFGS) rather than trained by gradient steps on the level stage's
views. Fitted on whole photos with each set weighted alike, it costs mild reflections 0.4 dB less at
the same clean-photo darkening than any head the level stage's views gave (docs/experiments.md,
"The head fitted directly ships"). Its odds (``model.presence_odds``) are then the ones at which the
clean photos of a held-out split come back ``DARKER`` on average through the whole model; the
darkening is the generator's and the Level-net's, so this stage comes after theirs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import minimize
from tqdm.auto import tqdm

from rrgan.config import DataConfig
from rrgan.data.images import decode_rgb
from rrgan.data.pipeline import (
    Sources,
    decode_pair,
    held_out,
    holdout_pairs,
    pair_groups,
    pair_records,
    photo_records,
    usable_pair,
)
from rrgan.errors import RRGANError
from rrgan.level import levelled_transmission, thumbnail
from rrgan.models import Networks
from rrgan.models.presence_net import LEVEL_FEATURES, presence_head

JUDGED_SHORT_SIDE = 256  # every photo is judged at one size, so the sets compare
L2 = 3e-4  # on the standardized features
DARKER = 0.02  # the calibration photos come back this much darker on average (issue 31's bar)
CALIBRATION_SIZE = 384  # the side of the clean-photo check's views
LOG_ODDS = np.linspace(-15.0, 15.0, 601)  # the odds are chosen on this grid of log-odds, 0.05 apart


@dataclass(frozen=True)
class PresenceRows:
    """What the head is fitted on: one row per photo."""

    features: np.ndarray  # float64 [N, F]: the Level-net's pooled features, the head's input
    has_reflection: np.ndarray  # float64 [N]: 1 for a real pair's input, 0 for a clean photo
    group: np.ndarray  # str [N]: the set a row came from; each set weighs the same within its class


def judged_size(image: tf.Tensor, short_side: int = JUDGED_SHORT_SIDE) -> tf.Tensor:
    """uint8 [H, W, 3] area-scaled to ``short_side`` on its short side, each side a multiple of 16."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    size = tf.maximum(16, tf.cast(tf.round(shape * short_side / tf.reduce_min(shape) / 16), tf.int32) * 16)
    return tf.cast(tf.round(tf.image.resize(image, size, "area")), tf.uint8)


class PooledFeatures:
    """uint8 photo [H, W, 3] -> the features the Presence-net's head reads, float64 [F]."""

    def __init__(self, networks: Networks):
        level, head = networks.level_net, presence_head(networks.presence_net)
        self.thumbnail_side = networks.level_thumbnail
        self.level_features = keras.Model(level.inputs[0], [level.get_layer(name).output for name in LEVEL_FEATURES])
        self.pooled = keras.Model(head.inputs, head.get_layer("pooled").output)

    def __call__(self, image: tf.Tensor) -> np.ndarray:
        small = thumbnail(judged_size(image)[None], self.thumbnail_side)
        return self.pooled(self.level_features(small, training=False)).numpy()[0].astype(np.float64)


def training_rows(networks: Networks, sources: Sources, data: DataConfig, progress: bool = True) -> PresenceRows:
    """Every real pair training sees (``data.pair_holdout`` and the pair filters), its input a row with a
    reflection and its target a clean one, and every training photo (``data.photo_holdout``) a clean
    row. All of them, not a sample: heads fitted on every third target and 800 of the photos moved
    sir2_solidobject by 0.7 dB between draws (docs/experiments.md, "The presence stage in the package")."""
    features, has_reflection, group = [], [], []
    pooled = PooledFeatures(networks)
    bar = tqdm(desc="presence stage: photos judged", unit="photo", disable=not progress)

    def add(image, label, name):
        features.append(pooled(image))
        has_reflection.append(label)
        group.append(name)
        bar.update()

    for pairs in pair_groups(sources):
        name = pairs.pair_sets[0].root.name if pairs.pair_sets else "pair shards"
        for record in pair_records(pairs, holdout=data.pair_holdout).filter(lambda r: usable_pair(r, data)):
            pair = decode_pair(record)
            add(pair["input"], 1.0, name)
            add(pair["target"], 0.0, f"{name} targets")
    photos = Sources(photos=sorted(sources.photos), photo_shards=sources.photo_shards)
    records = photo_records(photos, holdout=data.photo_holdout)
    if records is not None:
        for record in records:
            add(decode_rgb(record["target"]), 0.0, "photos")
    bar.close()
    labels = np.array(has_reflection)
    if labels.min(initial=1.0) > 0.0 or labels.max(initial=0.0) < 1.0:
        raise RRGANError("the presence stage needs real pairs and clean photos to tell apart: give --data with "
                         "real pairs (their targets count as clean photos)")
    return PresenceRows(np.stack(features), labels, np.array(group))


def group_weights(rows: PresenceRows, clean_share: float = 0.5) -> np.ndarray:
    """Each row's weight: every group counts the same within its class, so a large set does not decide
    what a reflection looks like; the clean rows weigh ``clean_share`` of the whole, the others the rest."""
    weight = np.zeros(len(rows.group))
    for name in np.unique(rows.group):
        weight[rows.group == name] = 1.0 / np.sum(rows.group == name)
    for label, share in ((0.0, clean_share), (1.0, 1.0 - clean_share)):
        chosen = rows.has_reflection == label
        weight[chosen] *= share / weight[chosen].sum()
    return weight


def fit_logistic(features: np.ndarray, labels: np.ndarray, weight: np.ndarray,
                 l2: float = L2) -> tuple[np.ndarray, float]:
    """The weighted, L2-regularized logistic regression of ``labels`` on the standardized features,
    as (kernel [F], bias) on the raw features: what the head's ``presence_logit`` layer holds."""
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std

    def loss(theta):
        z = x @ theta[:-1] + theta[-1]
        error = weight * (1.0 / (1.0 + np.exp(-z)) - labels)
        value = np.sum(weight * (np.logaddexp(0.0, z) - labels * z)) + l2 * theta[:-1] @ theta[:-1]
        return value, np.r_[x.T @ error + 2.0 * l2 * theta[:-1], error.sum()]

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    coefficients, bias = theta[:-1], theta[-1]
    return coefficients / std, float(bias - coefficients @ (mean / std))


def fit_head(rows: PresenceRows, l2: float = L2) -> tuple[np.ndarray, float]:
    """The head for ``rows``, each set weighted alike (``group_weights``)."""
    return fit_logistic(rows.features, rows.has_reflection, group_weights(rows), l2)


def set_head(networks: Networks, kernel: np.ndarray, bias: float) -> None:
    presence_head(networks.presence_net).get_layer("presence_logit").set_weights(
        [kernel[:, None].astype(np.float32), np.array([bias], np.float32)])


def calibrated_odds(logits: np.ndarray, darkening: np.ndarray, darker: float = DARKER) -> float:
    """The odds at which photos whose whole correction darkens them by ``darkening`` (1 - output /
    input brightness, per photo) come back ``darker`` on average, each keeping its share
    ``sigmoid(logit + log odds)`` of the correction."""
    if not len(logits):
        raise RRGANError("no held-out clean photos to set the Presence-net's odds on: give more --photos")
    shares = 1.0 / (1.0 + np.exp(-(logits[None, :] + LOG_ODDS[:, None])))
    return float(np.exp(LOG_ODDS[np.argmin(np.abs((shares * darkening).mean(1) - darker))]))


def calibration_photos(sources: Sources, data: DataConfig) -> tf.data.Dataset:
    """The clean photos the odds are set on, uint8 [S, S, 3]: the clean-photo check's views (square
    crops of ``CALIBRATION_SIZE``, as ``rrgan-data synthesize --size 384 --set data.clean_fraction=1``
    makes them) of half of the photos held out of training (a nested keyed-hash split), so the other
    half stays a check that chose nothing. Whole photos judge differently: odds set on them left the
    check 2.4 % darker instead of 2 %. The training run's windows (``data.view_short_side``,
    ``data.reflection_view_short_side``) are the generator's crops, not the check's: they are reset."""
    if data.photo_holdout <= 0.0 or not (sources.photos or sources.photo_shards):
        raise RRGANError("the presence stage sets its odds on clean photos held out of training: give --photos "
                         "and hold some out (data.photo_holdout, 0.1 in the cpu presets)")
    views = dataclasses.replace(data, crop_size=CALIBRATION_SIZE, clean_fraction=1.0, view_short_side=(0, 0),
                                reflection_view_short_side=(0, 0))
    pairs = holdout_pairs([*sorted(sources.photos), *sources.photo_shards], views)
    pairs = pairs.filter(lambda pair: held_out(pair["name"], data.photo_holdout / 2))
    return pairs.map(lambda pair: tf.cast(tf.round(pair["target"] * 255.0), tf.uint8))


def photo_darkening(networks: Networks, photos: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each photo's logit and the darkening (1 - output / input brightness) of its whole correction."""
    ungated = dataclasses.replace(networks, presence_net=None)
    logits, darkening = [], []
    for photo in photos:
        small = thumbnail(photo[None], networks.level_thumbnail)
        logits.append(float(networks.presence_net(small, training=False)[0, 0]))
        image = tf.cast(photo[None], tf.float32) / 255.0
        darkening.append(1.0 - float(tf.reduce_mean(levelled_transmission(ungated, image)) / tf.reduce_mean(image)))
    return np.array(logits), np.array(darkening)
