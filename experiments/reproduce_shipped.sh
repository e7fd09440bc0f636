#!/usr/bin/env bash
# Reproduce the shipped model (docs/shipped-model.md#reproduce) in one command: its training runs in
# order (the Presence-net's head fitted last), the export, and the scores of the README's table on
# the sets in ../shared.
#
#   bash experiments/reproduce_shipped.sh [WORKROOT]     (default runs/repro; about 6 h on 2 cores)
#
# Every run resumes its work dir, so the same command after an interruption goes on where it stopped.
# This file is the recipe: tests/test_inference.py checks that the shipped config is what its last
# run trains with, the Presence-net's odds as its presence stage sets them.
set -euo pipefail
root=${1:-runs/repro}
shared=${RRGAN_SHARED:-../shared}
data=(--data "$shared/data/train" --photos "$shared/data/photos")
real_sets=("$shared/data/val/nature20" "$shared/data/val/sir2_solidobject")
# The Level-net, the Presence-net and the fine-tune keep 15 % of the real pairs out (real89's 12 are
# scored below) and keep real89's strongest reflections in.
pairs=(--set data.pair_holdout=0.15 --set data.pair_brightness_ratio=0.1,1.03)
# The generator's fine-tune: reflections that are whole scenes, a loss on detail, the decay from
# step 5000 with the discriminator in it; its best checkpoint by validation ships.
fine_tune=(--set data.reflection_view_short_side=128,192 --set data.synthesis.reflection_strength=0.3,0.8
           --set loss.detail=4 --set loss.detail_size=31 --set train.gan_steps=6500
           --set train.decay_fraction=0.230769 --set train.validation_every=500 --set train.checkpoint_every=500)
# The Level-net goes on from the fine-tune at a 256-px thumbnail (16 cells on the short side), half the rate.
level_finer=(--set model.level_thumbnail=256)

rrgan-train --preset cpu-long "${data[@]}" --val "${real_sets[@]}" --workdir "$root/cpu-long"
rrgan-train --preset cpu-long --init "$root/cpu-long" --stage level "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" --set model.level_net=true "${pairs[@]}" \
    --set train.level_steps=8000 --set train.validation_every=4000 --set train.checkpoint_every=1000 \
    --workdir "$root/level"
rrgan-train --preset cpu-long --init "$root/level" --stage gan "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" "${pairs[@]}" "${fine_tune[@]}" \
    --workdir "$root/fine-tune"
rrgan-train --preset cpu-long --init "$root/fine-tune" --stage level "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" "${pairs[@]}" "${level_finer[@]}" \
    --set train.level_steps=2000 --set train.level_learning_rate=2.5e-4 --set train.validation_every=1000 \
    --set train.checkpoint_every=250 --workdir "$root/level256"
# The Presence-net's head, fitted last (its odds depend on the generator and Level-net): on the Level-net's
# features of the training pairs and photos, each set weighted equally, its odds set so that half of the
# held-out photos come back 2 % darker. The fine-tune's overrides ride along so that the shipped config
# records the generator's recipe; the stage reads only the data section's splits and filters.
rrgan-train --preset cpu-long --init "$root/level256" --stage presence "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" --set model.presence_net=true "${pairs[@]}" \
    "${fine_tune[@]}" --workdir "$root/presence"
[ -e "$root/weights" ] || rrgan-export "$root/presence" --weights "$root/weights"
[ -e "$root/clean" ] || rrgan-data synthesize --photos "$shared/data/photos" -o "$root/clean" --size 384 \
    --set data.clean_fraction=1
rrgan-eval "${real_sets[@]}" --model "$root/weights" -o "$root/scores"
rrgan-eval "${real_sets[@]}" --model "$root/weights" --resize-multiple 32 -o "$root/scores_resized"
rrgan-eval "$shared/data/train/real89" --pair-holdout 0.15 --working-megapixels 0 --model "$root/weights" \
    -o "$root/scores_real89_holdout"
rrgan-eval "$root/clean" --model "$root/weights" -o "$root/scores_clean"
