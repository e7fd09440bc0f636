#!/usr/bin/env bash
# The Lite0-fed Attention-net trained on more real glass, then the generator's fine-tune with its map
# (docs/experiments.md, "An Attention-net that sees what the photo shows", runs/attd): stage 1 again
# from a finished run of train.sh, with each real pair set an equal share of the real pairs (real89
# half of them instead of about 7 %) and real pairs half of each batch.
#
#   bash experiments/attention_backbone/real_glass.sh ROOT INIT      (INIT: e.g. runs/attc/gan)
#
# Each run resumes its work dir.
set -euo pipefail
root=$1; init=$2
shared=${RRGAN_SHARED:-../shared}
data=(--data "$shared/data/train" --photos "$shared/data/photos")
val=(--val "$shared/data/val/nature20" "$shared/data/val/sir2_solidobject" "$shared/data/train/real89")
pairs=(--set data.pair_holdout=0.15 --set data.pair_brightness_ratio=0.1,1.03)
fine_tune=(--set data.reflection_view_short_side=128,192 --set data.synthesis.reflection_strength=0.3,0.8
           --set loss.detail=4 --set loss.detail_size=31)
attention=(--set model.attention_backbone=efficientnet_lite0 --set model.attention_backbone_stages=4
           --set model.attention_width=32 --set model.attention_blocks=3 --set loss.mask_level_free=true)
rrgan-train --preset cpu-long --init "$init" --stage aux "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" --set data.balance_pair_sets=true --set data.real_fraction=0.5 --set train.aux_steps=2000 \
    --workdir "$root/aux"
rrgan-train --preset cpu-long --init "$root/aux" --stage gan "${data[@]}" "${val[@]}" "${pairs[@]}" "${fine_tune[@]}" \
    "${attention[@]}" --set train.gan_steps=2000 --set train.decay_fraction=0.5 \
    --set train.validation_every=500 --set train.checkpoint_every=500 --workdir "$root/gan"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/val/nature20" "$shared/data/val/sir2_solidobject"
python benchmarks/guidance.py --model "$root/aux" --pairs "$shared/data/train/real89" --pair-holdout 0.15
python benchmarks/removal.py --model "$root/gan"
