#!/usr/bin/env bash
# Reproduce the embedded `sheep` model with sketchtool's own commands (see README.md next to this file).
# Usage: examples/sheep/reproduce.sh [STEPS] [FINE_TUNE_STEPS] [WORK_DIR]     e.g. examples/sheep/reproduce.sh 17050 7000 work/
set -euo pipefail
STEPS="${1:-17050}"
FINE="${2:-7000}"
WORK="${3:-work}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$WORK"
DATA="$WORK/aaron_sheep.npz"
if [ ! -f "$DATA" ]; then
  # The Sheep Market by Aaron Koblin, CC BY-NC 4.0, packaged by hardmaru/sketch-rnn-datasets
  curl -L --fail -o "$DATA" https://github.com/hardmaru/sketch-rnn-datasets/raw/master/aaron_sheep/aaron_sheep.npz
fi
sketchtool info "$DATA"
# 1. small preset: layer-norm LSTM decoder 256, encoder 128, z 128, 20 mixtures, batch 100; one thread on a shared CPU
OMP_NUM_THREADS=1 sketchtool train "$DATA" -o "$WORK/runs/sheep" --preset small --threads 1 --steps "$STEPS"
# 2. more training from those weights with a fresh optimiser at a lower learning rate (the KL weight anneals again
#    from 0.3 to 0.5); the shipped model started from stage 1's fp16 export, this from its fp32 weights
OMP_NUM_THREADS=1 sketchtool train "$DATA" -o "$WORK/runs/sheep-ft" --init "$WORK/runs/sheep" --threads 1 \
  --hparams learning_rate=0.0001,kl_weight_start=0.3 --save-every 500 --steps "$FINE"
sketchtool eval "$WORK/runs/sheep-ft" --split test
sketchtool curves "$WORK/runs/sheep-ft" -o "$WORK/sheep-curves.png"
python "$HERE/export_embedded.py" "$WORK/runs/sheep-ft" --name sheep --dataset "$DATA"
sketchtool generate --model sheep --n 25 --seed 0 --out "$WORK/sheep-samples.svg"
