#!/bin/sh
# Every collection we can get offline -> the judge's weights, in one command (run from the repository root):
#   sh examples/judge/build.sh SHEEP.npz [WORKDIR] [OUT.pt]
# Builds the collections (examples/judge/collect.sh), then trains the judge (examples/judge/train_judge.py). About
# 10 minutes on 2 busy cores; see README.md for figures.
set -eu
SHEEP=${1:?give the aaron_sheep.npz path}
WORK=${2:-judge-data}
OUT=${3:-sketchtool/pretrained/judge.pt}
sh examples/judge/collect.sh "$WORK"
python examples/judge/train_judge.py --sheep "$SHEEP" --kanji "$WORK/kanji.npz" --icons "$WORK/icons.npz" \
  --mnist "$WORK/mnist.npz" -o "$OUT"
