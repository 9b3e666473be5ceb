#!/bin/sh
# KanjiVG -> a sketch-rnn stroke-3 dataset and a preview, in one command:
#   pip install kanjivg && sh examples/kanji/build.sh [OUT.npz]
# Settings match the published sketch-rnn kanji set: RDP epsilon 2.0 on a 256-unit box (its kanji.rdp200.npz,
# QuickDraw's setting) and 10,000/600/500 train/valid/test drawings.
set -eu
OUT=${1:-kanji.npz}
BASE=${OUT%.npz}
KANJI=$(python -c 'from importlib import metadata; print(next(f.locate().parent for f in metadata.files("kanjivg") if f.suffix == ".svg"))') \
  || { echo "KanjiVG is not installed: pip install kanjivg" >&2; exit 1; }
sketchtool build-dataset "$KANJI" -o "$OUT" --epsilon 2 --max-seq-len 100 --split 10000,600,500 --seed 0 \
  --report "$BASE-report.json" --force
sketchtool info "$OUT"
sketchtool show "$OUT" -o "$BASE-preview.svg" --n 64 --split valid --colour-by-order --force
