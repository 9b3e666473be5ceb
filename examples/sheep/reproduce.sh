#!/usr/bin/env bash
# Reproduce the embedded `sheep` model with sketchtool's own commands (see README.md next to this file).
# Usage: examples/sheep/reproduce.sh [STEPS] [WORK_DIR]     e.g. examples/sheep/reproduce.sh 17050 work/
set -euo pipefail
STEPS="${1:-17050}"
WORK="${2:-work}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$WORK"
DATA="$WORK/aaron_sheep.npz"
if [ ! -f "$DATA" ]; then
  # The Sheep Market by Aaron Koblin, CC BY-NC 4.0, packaged by hardmaru/sketch-rnn-datasets
  curl -L --fail -o "$DATA" https://github.com/hardmaru/sketch-rnn-datasets/raw/master/aaron_sheep/aaron_sheep.npz
fi
sketchtool info "$DATA"
# small preset: layer-norm LSTM decoder 256, encoder 128, z 128, 20 mixtures, batch 100; one thread on a shared CPU
OMP_NUM_THREADS=1 sketchtool train "$DATA" -o "$WORK/runs/sheep" --preset small --threads 1 --steps "$STEPS"
sketchtool eval "$WORK/runs/sheep" --split test
sketchtool curves "$WORK/runs/sheep" -o "$WORK/sheep-curves.png"
python "$HERE/export_embedded.py" "$WORK/runs/sheep" --name sheep --dataset "$DATA"
sketchtool generate --model sheep --n 25 --seed 0 --out "$WORK/sheep-samples.svg"
