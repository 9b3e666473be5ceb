#!/usr/bin/env bash
# Reproduce the embedded `sheep` model with sketchtool's own commands (see README.md next to this file).
# Usage: examples/sheep/reproduce.sh [STEPS] [WORK_DIR]     e.g. examples/sheep/reproduce.sh 10000 work/
set -euo pipefail
STEPS="${1:-10000}"
WORK="${2:-work}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$WORK"
DATA="$WORK/aaron_sheep.npz"
if [ ! -f "$DATA" ]; then
  # The Sheep Market by Aaron Koblin, CC BY-NC 4.0, packaged by hardmaru/sketch-rnn-datasets
  curl -L --fail -o "$DATA" https://github.com/hardmaru/sketch-rnn-datasets/raw/master/aaron_sheep/aaron_sheep.npz
fi
sketchtool info "$DATA"
# magenta's reference size (LSTM decoder 512, encoder 256), two DDP processes of 50 drawings (reference.sh); the
# shipped model is this run at step STEPS (it was stopped and resumed in chunks of 2,000 steps on the way)
"$HERE/reference.sh" "$DATA" "$STEPS" "$WORK/runs/sheep-ref"
sketchtool eval "$WORK/runs/sheep-ref/latest.pt" --split test
sketchtool curves "$WORK/runs/sheep-ref" -o "$WORK/sheep-curves.png"
python "$HERE/export_embedded.py" "$WORK/runs/sheep-ref/latest.pt" --name sheep --dataset "$DATA" \
  --recipe examples/sheep/reference.sh
sketchtool generate --model sheep --n 25 --seed 0 --out "$WORK/sheep-samples.svg"
