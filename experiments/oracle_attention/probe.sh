#!/usr/bin/env bash
# probe.sh WORKDIR [BLOCK]: the removal probe of docs/experiments.md with the oracle attention map
# (BLOCK 1: the mask; 16: each 16x16 block's share) as the generator's attention input in training,
# in a worktree with oracle_attention.patch applied; then score.py on its step-1000 checkpoint.
# Run from the repository root; needs runs/repro/fine-tune (experiments/reproduce_shipped.sh).
set -euo pipefail
workdir=$1; block=${2:-1}
tree=$(mktemp -d)/rrgan
git worktree add -q --detach "$tree" HEAD
git -C "$tree" apply "$PWD/experiments/oracle_attention/oracle_attention.patch"
ORACLE_BLOCK=$block PYTHONPATH=$tree rrgan-train --preset cpu-long --init runs/repro/fine-tune --stage gan \
    --data ../shared/data/train --photos ../shared/data/photos --set data.real_fraction=0 \
    --set data.synthesis.recipes=zhang --set data.synthesis.zhang_sigma=2,5 --set data.synthesis.reflection_strength=0.6,0.6 \
    --set loss.adversarial=0 --set train.gan_steps=1000 --set train.decay_fraction=0.0001 \
    --set train.checkpoint_every=250 --set train.validation_every=100000 --workdir "$workdir"
git worktree remove --force "$tree"
python experiments/oracle_attention/score.py "$workdir/checkpoints/ckpt-4" "$block"
