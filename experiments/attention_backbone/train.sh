#!/usr/bin/env bash
# The shipped recipe's generator given an Attention-net that reads EfficientNet-Lite0's features
# (docs/experiments.md, "An Attention-net that sees what the photo shows"): stage 1 of the
# Attention-net on INIT's networks, then the generator's fine-tune with its map.
#
#   bash experiments/attention_backbone/train.sh ROOT real|synthetic|real-glass [INIT]
#
# real: stage 1 of a new Attention-net on the shipped data mix against the level-free mask (runs/attc);
# synthetic: the same on synthetic pairs only against the plain mask (runs/attb);
# real-glass: stage 1 again from a finished real run (INIT, e.g. runs/attc/gan) with each real pair
# set an equal share of the real pairs (real89 half of them instead of about 7 %) and real pairs
# half of each batch, then a shorter fine-tune (runs/attd).
# INIT: the trained networks to start from (default runs/repro/fine-tune, the reproduction's
# fine-tune: experiments/reproduce_shipped.sh). Each run resumes its work dir.
set -euo pipefail
root=$1; kind=$2; init=${3:-runs/repro/fine-tune}
shared=${RRGAN_SHARED:-../shared}
data=(--data "$shared/data/train" --photos "$shared/data/photos")
val=(--val "$shared/data/val/nature20" "$shared/data/val/sir2_solidobject" "$shared/data/train/real89")
pairs=(--set data.pair_holdout=0.15 --set data.pair_brightness_ratio=0.1,1.03)
fine_tune=(--set data.reflection_view_short_side=128,192 --set data.synthesis.reflection_strength=0.3,0.8
           --set loss.detail=4 --set loss.detail_size=31)
attention=(--set model.attention_backbone=efficientnet_lite0 --set model.attention_backbone_stages=4
           --set model.attention_width=32 --set model.attention_blocks=3)
schedule=(--set train.aux_steps=2500 --set train.gan_steps=3000 --set train.decay_fraction=0.3333)
case $kind in
  real) attention+=(--set loss.mask_level_free=true); stage1=() ;;
  synthetic) stage1=(--set data.real_fraction=0) ;;
  real-glass) attention+=(--set loss.mask_level_free=true)
              stage1=(--set data.balance_pair_sets=true --set data.real_fraction=0.5)
              schedule=(--set train.aux_steps=2000 --set train.gan_steps=2000 --set train.decay_fraction=0.5) ;;
  *) echo "kind must be real, synthetic or real-glass, got $kind" >&2; exit 2 ;;
esac
rrgan-train --preset cpu-long --init "$init" --stage aux "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" "${stage1[@]}" "${schedule[@]}" --workdir "$root/aux"
rrgan-train --preset cpu-long --init "$root/aux" --stage gan "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" "${schedule[@]}" --set train.validation_every=500 --set train.checkpoint_every=500 \
    --workdir "$root/gan"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/val/nature20" "$shared/data/val/sir2_solidobject"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/train/real89" --pair-holdout 0.15
python benchmarks/removal.py --model "$root/gan"
