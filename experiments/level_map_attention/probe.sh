#!/usr/bin/env bash
# probe.sh WORKDIR: the removal probe of docs/experiments.md (experiments/oracle_attention/probe.sh) with the
# Level-net's taken-out light (level_map.py) as the generator's attention input in training, from the
# shipped networks; then score.py on its step-1000 checkpoint. Run from the repository root.
set -euo pipefail
workdir=$1
here=$PWD/experiments/level_map_attention
tree=$(mktemp -d)/rrgan
git worktree add -q --detach "$tree" HEAD
python "$here/apply.py" "$tree"
PYTHONPATH=$tree:$here rrgan-train --preset cpu-long --init --stage gan \
    --data ../shared/data/train --photos ../shared/data/photos --set data.real_fraction=0 \
    --set data.synthesis.recipes=zhang --set data.synthesis.zhang_sigma=2,5 --set data.synthesis.reflection_strength=0.6,0.6 \
    --set loss.adversarial=0 --set train.gan_steps=1000 --set train.decay_fraction=0.0001 \
    --set train.checkpoint_every=250 --set train.validation_every=100000 --workdir "$workdir"
git worktree remove --force "$tree"
PYTHONPATH=$here python "$here/score.py" "$workdir/checkpoints/ckpt-4"
