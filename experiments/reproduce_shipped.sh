#!/usr/bin/env bash
# Reproduce the shipped model (docs/shipped-model.md#reproduce) in one command: its four training
# runs in order, the export, the Presence-net's head fitted last, and the scores of the README's
# table on the sets in ../shared.
#
#   bash experiments/reproduce_shipped.sh [WORKROOT]     (default runs/repro; about 5 h on 2 cores)
#
# Every run resumes its work dir, so the same command after an interruption goes on where it stopped.
# This file is the recipe: tests/test_inference.py checks that the shipped config is what its last
# run trains with, the Presence-net's odds as its last step calibrates them.
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

rrgan-train --preset cpu-long "${data[@]}" --val "${real_sets[@]}" --workdir "$root/cpu-long"
rrgan-train --preset cpu-long --init "$root/cpu-long" --stage level "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" --set model.level_net=true "${pairs[@]}" \
    --set train.level_steps=8000 --set train.validation_every=4000 --set train.checkpoint_every=1000 \
    --workdir "$root/level"
rrgan-train --preset cpu-long --init "$root/level" --stage presence "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" --set model.presence_net=true "${pairs[@]}" \
    --set train.presence_steps=1500 --set train.validation_every=1500 --workdir "$root/presence"
rrgan-train --preset cpu-long --init "$root/presence" --stage gan "${data[@]}" \
    --val "${real_sets[@]}" "$shared/data/train/real89" "${pairs[@]}" "${fine_tune[@]}" \
    --workdir "$root/fine-tune"
# The Presence-net's head, fitted directly (the presence stage's training falls short of it) on the
# Level-net's features of the training pairs and photos, each set weighted equally; its odds make the
# clean photos of held_out(name, 0.05), half of the held-out tenth, come back 2 % darker. The other
# half of the clean-photo check chooses nothing.
fit="$root/presence-fit"
[ -e "$fit/weights" ] || rrgan-export "$root/fine-tune" --weights "$fit/weights"
[ -e "$root/clean" ] || rrgan-data synthesize --photos "$shared/data/photos" -o "$root/clean" --size 384 \
    --set data.clean_fraction=1
[ -e "$fit/train.npz" ] || python experiments/presence/share_study.py cache -o "$fit/train.npz" \
    --model "$fit/weights" --pairs "$shared/data/train" --pair-split train --targets-as-clean 3 \
    --photos "$shared/data/photos" --photo-split train --max-photos 800
[ -e "$fit/clean.npz" ] || python experiments/presence/share_study.py cache -o "$fit/clean.npz" \
    --model "$fit/weights" --pairs "$root/clean" --size 384
[ -e "$root/weights" ] || python experiments/presence/gate_features.py export "$fit/train.npz" "$fit/clean.npz" \
    --model "$fit/weights" -o "$root/weights"
rrgan-eval "${real_sets[@]}" --model "$root/weights" -o "$root/scores"
rrgan-eval "${real_sets[@]}" --model "$root/weights" --resize-multiple 32 -o "$root/scores_resized"
rrgan-eval "$shared/data/train/real89" --pair-holdout 0.15 --working-megapixels 0 --model "$root/weights" \
    -o "$root/scores_real89_holdout"
rrgan-eval "$root/clean" --model "$root/weights" -o "$root/scores_clean"
