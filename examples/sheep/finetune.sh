#!/usr/bin/env bash
# The embedded sheep's second stage: magenta's schedule taken on from a reference.sh run's step 10,000 with a fresh
# Adam, at the values the schedule had reached. learning_rate 0.0002 (the schedule's 0.00037 halved: a fresh Adam's
# first steps are large), decaying by 0.9999 a step as before; the KL weight held at its final 0.5 (magenta's
# weight is kl_weight - (kl_weight - kl_weight_start)·kl_decay_rate^step, so kl_weight_start=0.5 keeps it there).
# Same two data-parallel processes of 50 drawings. It stops every 500 steps (and at STEPS) to keep a snapshot
# RUN_DIR/stepN.pt for average.py, and resumes where it stopped, so call it again until it reaches STEPS. WARMUP > 0
# ramps the rate up over that many steps (hparam lr_warmup_steps): rounds one to three ran without it (0), round
# four with 500.
# Usage: examples/sheep/finetune.sh DATA.npz FROM_MODEL [STEPS] [RUN_DIR] [WARMUP]
set -euo pipefail
DATA="$1"
FROM="$2"
STEPS="${3:-4000}"
RUN="${4:-runs/sheep-ft}"
WARMUP="${5:-0}"
for ((N = 500; N < STEPS + 500; N += 500)); do
  ((N > STEPS)) && N=$STEPS  # a STEPS that is no multiple of 500 ends with a snapshot of its own
  [ -f "$RUN/step$N.pt" ] && continue
  START=(--init "$FROM" --hparams kl_weight_start=0.5,learning_rate=0.0002,lr_warmup_steps=$WARMUP)
  [ -f "$RUN/latest.pt" ] && START=(--resume)  # a resumed run keeps its own hparams
  OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 -m sketchtool train "$DATA" -o "$RUN" "${START[@]}" --threads 1 \
    --steps "$N" --save-every 500
  cp "$RUN/latest.pt" "$RUN/step$N.pt"
done
