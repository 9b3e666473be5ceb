#!/bin/sh
# The embedded vectorizer (`sketchtool vectorize --method agent`): rasterised sheep, KanjiVG, icons and MNIST digits
# at 28 x 28 -> a StrokeNet renderer and a recurrent agent, in one command (run from the repository root):
#   sh examples/vectorizer/build.sh SHEEP.npz [WORKDIR] [OUT.pt]
# Collections as for the judge (examples/judge/collect.sh). Training takes about two hours on one core; see
# README.md for what each step does and the figures.
set -eu
SHEEP=${1:?give the aaron_sheep.npz path}
WORK=${2:-judge-data}
OUT=${3:-sketchtool/pretrained/vectorizer.pt}
sh examples/judge/collect.sh "$WORK"
HERE=$(pwd)
cd "$WORK"
sketchtool rasterize "$SHEEP" -o sheep28.npz --size 28 --line-width 1.5 --force
sketchtool rasterize kanji.npz -o kanji28.npz --size 28 --line-width 1 --limit 3000 --force
sketchtool rasterize icons.npz -o icons28.npz --size 28 --line-width 1.5 --force
[ -f mnist-v2.npz ] || python "$HERE/examples/mnist/make_mnist.py" mnist/package --valid 1000 -o mnist-v2.npz
python "$HERE/examples/vectorizer/merge_images.py" sheep=sheep28.npz kanji=kanji28.npz icon=icons28.npz \
  digit=mnist-v2.npz -o lines28.npz
python "$HERE/examples/vectorizer/merge_images.py" sheep=sheep28.npz kanji=kanji28.npz icon=icons28.npz \
  digit=mnist-v2.npz -o lines28u.npz --unlabelled
# the renderer learns the brush only (random strokes; the images set the canvas size)
sketchtool train lines28.npz -o renderer28 --model strokenet-renderer --steps 2185 --save-every 100 \
  --hparams position_hidden=128,position_wide=512,channels=32,pretrain_steps=300,batch_size=32,valid_size=256
# the agent as it was grown: sheep outlines first, then kanji with more strokes and the renderer tuned on its own
# strokes, then every collection
sketchtool train sheep28.npz -o agent-sheep --model strokenet-agent --steps 9438 --save-every 500 \
  --hparams renderer=renderer28,steps=4,batch_size=32
sketchtool train kanji28.npz -o agent-kanji --init agent-sheep/best.pt --steps 5018 --save-every 1000 \
  --hparams steps=8,tune_renderer_every=2
sketchtool train lines28u.npz -o vectorizer28 --init agent-kanji/best.pt --steps 5390 --save-every 1000 \
  --hparams steps=6
cd "$HERE"
python examples/vectorizer/export_vectorizer.py "$WORK/vectorizer28/best.pt" --data "$WORK/lines28.npz" -o "$OUT"
