#!/usr/bin/env bash
# The shipped recipe's generator given an Attention-net that reads EfficientNet-Lite0's features
# (docs/experiments.md, "An Attention-net that sees what the photo shows"): stage 1 of the new
# Attention-net on the reproduction's networks, then the generator's fine-tune with its map.
#
#   bash experiments/attention_backbone/train.sh ROOT real|synthetic [INIT]
#
# real: stage 1 on the shipped data mix against the level-free mask (runs/attc);
# synthetic: stage 1 on synthetic pairs only against the plain mask (runs/attb).
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
case $kind in
  real) attention+=(--set loss.mask_level_free=true); stage1=() ;;
  synthetic) stage1=(--set data.real_fraction=0) ;;
  *) echo "kind must be real or synthetic, got $kind" >&2; exit 2 ;;
esac
rrgan-train --preset cpu-long --init "$init" --stage aux "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" "${stage1[@]}" --set train.aux_steps=2500 --workdir "$root/aux"
rrgan-train --preset cpu-long --init "$root/aux" --stage gan "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" --set train.gan_steps=3000 --set train.decay_fraction=0.3333 \
    --set train.validation_every=500 --set train.checkpoint_every=500 --workdir "$root/gan"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/val/nature20" "$shared/data/val/sir2_solidobject"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/train/real89" --pair-holdout 0.15
python benchmarks/removal.py --model "$root/gan"
