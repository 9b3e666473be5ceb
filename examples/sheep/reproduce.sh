#!/usr/bin/env bash
# Reproduce the embedded `sheep` model with sketchtool's own commands (see README.md next to this file).
# Usage: examples/sheep/reproduce.sh [STEPS] [FT_STEPS] [WORK_DIR]     e.g. examples/sheep/reproduce.sh 10000 4000 work/
# STEPS: the reference run (10,000 shipped); FT_STEPS: each of the first two fine-tuning rounds (4,000 shipped). The
# fourth round runs to 18,000 steps, as shipped, whatever they are.
set -euo pipefail
STEPS="${1:-10000}"
FT_STEPS="${2:-4000}"
WORK="${3:-work}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$WORK"
DATA="$WORK/aaron_sheep.npz"
if [ ! -f "$DATA" ]; then
  # The Sheep Market by Aaron Koblin, CC BY-NC 4.0, packaged by hardmaru/sketch-rnn-datasets. sketchtool fetches
  # nothing itself: the user places the data (README.md next to this file, step 1).
  echo "error: $DATA not found; download https://github.com/hardmaru/sketch-rnn-datasets/raw/master/aaron_sheep/aaron_sheep.npz there first" >&2
  exit 1
fi
sketchtool info "$DATA"
# 1. magenta's reference size (LSTM decoder 512, encoder 256), two data-parallel processes of 50 drawings (reference.sh)
"$HERE/reference.sh" "$DATA" "$STEPS" "$WORK/runs/sheep-ref"
# 2. the schedule taken on from there with a fresh Adam, a snapshot every 500 steps (finetune.sh)
"$HERE/finetune.sh" "$DATA" "$WORK/runs/sheep-ref/latest.pt" "$FT_STEPS" "$WORK/runs/sheep-ft"
# 3. the mean of every snapshot's weights
python "$HERE/average.py" "$WORK/sheep-averaged.pt" $(seq -f "$WORK/runs/sheep-ft/step%g.pt" 500 500 "$FT_STEPS")
# 4. a second round of 2. and 3. from that mean
"$HERE/finetune.sh" "$DATA" "$WORK/sheep-averaged.pt" "$FT_STEPS" "$WORK/runs/sheep-ft2"
python "$HERE/average.py" "$WORK/sheep-averaged2.pt" $(seq -f "$WORK/runs/sheep-ft2/step%g.pt" 500 500 "$FT_STEPS")
# 5. a fourth round (the third was not shipped) from the second's mean, a 500-step warm-up, run to 18,000 steps
#    (shipped at 3,500, 7,500 and 11,000, continued with its own Adam state as the fifth to eighth rounds); the mean
#    of its 11 snapshots from 13,000 to 18,000
"$HERE/finetune.sh" "$DATA" "$WORK/sheep-averaged2.pt" 18000 "$WORK/runs/sheep-ft4" 500
python "$HERE/average.py" "$WORK/sheep-averaged8.pt" $(seq -f "$WORK/runs/sheep-ft4/step%g.pt" 13000 500 18000)
sketchtool eval "$WORK/sheep-averaged8.pt" --split test
sketchtool curves "$WORK/runs/sheep-ft4" -o "$WORK/sheep-curves.png"
python "$HERE/export_embedded.py" "$WORK/sheep-averaged8.pt" --name sheep --dataset "$DATA" \
  --recipe examples/sheep/reproduce.sh
sketchtool generate --model sheep --n 25 --seed 0 --out "$WORK/sheep-samples.svg"
