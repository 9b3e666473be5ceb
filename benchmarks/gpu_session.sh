#!/bin/bash
# Everything a rented GPU is for, in one call (a bare box, minutes of time): the GPU benchmarks (train_speed,
# strokenet_speed), the CUDA tests, and two fine-tuning runs of the embedded sheep (A: magenta's batch 100; B: batch
# 400) that stop END_AT seconds after the start and come back as OUT/{A,B}_{mean,last}.pt with OUT/logs.tar.gz.
# The box has torch but not cairo or `simplification`, so prepare in an ignored folder .gpu/ beforehand:
#   mkdir -p .gpu/shared/data && cp ../shared/data/aaron_sheep.npz .gpu/shared/data/
#   python benchmarks/strokenet_speed.py --n 512 --save-pictures .gpu/pictures.npy
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 -d .gpu/whl simplification
# then run `bash benchmarks/gpu_session.sh cuda 515` there with .gpu carried (docs/BENCHMARKS.md "GPU").
# GRAPH=1 (the default) trains with --cuda-graph and times the captured step beside the eager one first.
# Usage: bash benchmarks/gpu_session.sh DEVICE END_AT [BENCH=1] [GRAPH=1]
set -u
DEV=$1; END_AT=$2; BENCH=${3:-1}; GRAPH=${4:-1}
PY=${PY:-python3}
OUT=${OUT:?set OUT to the folder that comes back}
if ls .gpu/whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 SKETCHTOOL_SHARED=$PWD/.gpu/shared OMP_NUM_THREADS=4
DATA=.gpu/shared/data/aaron_sheep.npz
W=/tmp/gpuwork; rm -rf $W; mkdir -p $W/logs
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
el start "$(nproc) cores"; nvidia-smi -L 2>&1; $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())"
if [ "$GRAPH" = 1 ]; then  # captured against eager, same process order, batch 100 and 1000
  el cuda_graph
  timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_cuda_graph.py -rs 2>&1 | tail -4 | tee $W/logs/test_cuda_graph.out
  for B in 100 1000; do for I in graph fast graph fast; do
    timeout 60 $PY benchmarks/train_speed.py --device $DEV --steps 20 --threads 4 --data $DATA --only $I,lstm,fp32 \
      --batch-size $B 2>&1 | tail -1 | tee -a $W/logs/train_speed_graph.jsonl
  done; done
fi
if [ "$BENCH" = 1 ]; then
  el train_speed
  timeout 150 $PY benchmarks/train_speed.py --device $DEV --steps 20 --threads 4 --data $DATA \
    --json $W/logs/train_speed.json 2>&1 | tail -20
  for B in 400 1000; do
    timeout 40 $PY benchmarks/train_speed.py --device $DEV --steps 20 --threads 4 --data $DATA --only fast,lstm,fp32 \
      --batch-size $B 2>&1 | tail -3 | tee -a $W/logs/train_speed_batch.jsonl
  done
  el strokenet_speed
  timeout 70 $PY benchmarks/strokenet_speed.py --n 512 --pictures .gpu/pictures.npy --model vectorizer 2>&1 \
    | tail -5 | tee $W/logs/strokenet_speed.json
fi
el fine-tuning
MIN=$($PY -c "print(max(0.3, ($END_AT - ($(date +%s) - $T0) - 25) / 60))")
COMMON=(--init sheep --device $DEV --precision fp32 --threads 4 --save-every 500 --log-every 50 --minutes $MIN)
[ "$GRAPH" = 1 ] && COMMON+=(--cuda-graph)
snapshots() {  # keep every checkpoint the run writes (written atomically, so a copy is whole)
  local run=$1 pid=$2 n=0
  while kill -0 $pid 2>/dev/null; do
    if [ -f $run/latest.pt ] && [ $run/latest.pt -nt $run.seen ]; then
      touch $run.seen; n=$((n + 1)); cp $run/latest.pt $run.snap$(printf %03d $n).pt
    fi
    sleep 1
  done
  n=$((n + 1)); cp $run/latest.pt $run.snap$(printf %03d $n).pt
}
$PY -m sketchtool train $DATA -o $W/A "${COMMON[@]}" \
  --hparams kl_weight_start=0.5,learning_rate=0.0002,lr_warmup_steps=500 > $W/logs/A.out 2>&1 &
PA=$!
$PY -m sketchtool train $DATA -o $W/B "${COMMON[@]}" \
  --hparams kl_weight_start=0.5,learning_rate=0.0004,lr_warmup_steps=500,batch_size=400 > $W/logs/B.out 2>&1 &
PB=$!
(sleep $(( END_AT + 10 - ($(date +%s) - T0) )); kill -TERM $PA $PB 2>/dev/null) &  # a run that overstays is stopped, saved
snapshots $W/A $PA & SA=$!
snapshots $W/B $PB & SB=$!
el tests
timeout 240 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py -rs > $W/logs/test_cuda.out 2>&1
tail -15 $W/logs/test_cuda.out; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>&1
wait $PA $PB $SA $SB
el averaging
tail -n 3 $W/logs/A.out $W/logs/B.out
# The rule fixed before training: the candidate is the mean of the run's snapshots at multiples of 500 steps in its
# second half; the last snapshot alone comes back beside it.
$PY - $W "$OUT" <<'EOF'
import glob, sys
from sketchtool.checkpoint import average_checkpoints, read_checkpoint
work, out = sys.argv[1:]
for run in "AB":
    by_step = {}
    for path in sorted(glob.glob(f"{work}/{run}.snap*.pt")):
        by_step[int(read_checkpoint(path)["step"])] = path
    if not by_step:
        print(run, "no snapshots"); continue
    last = max(by_step)
    chosen = [by_step[s] for s in sorted(by_step) if s % 500 == 0 and s > last / 2] or [by_step[last]]
    print(run, "steps", sorted(by_step), "averaged", average_checkpoints(chosen, f"{out}/{run}_mean.pt").metrics)
    average_checkpoints([by_step[last]], f"{out}/{run}_last.pt")
EOF
for r in A B; do cp $W/$r/metrics.jsonl $W/logs/${r}_metrics.jsonl 2>/dev/null; done
tar czf "$OUT/logs.tar.gz" -C $W logs
ls -la "$OUT"
el done
