"""Sampling speed: the whole `sketchtool generate --n 50 --out grid.svg` process (start-up included; target < 3 s)
and sketches/s at N = 1,000 batched versus one drawing at a time in the same run (target >= 20x).

    python benchmarks/generate_speed.py [--model sheep] [--n 1000] [--single 50] [--repeats 5] [--threads 1]

One-at-a-time sampling is timed on `--single` drawings and extrapolated to N (it is linear in N). Batched
sampling is timed twice: with the default precision ("auto": bfloat16 matmuls where the CPU has them natively)
and with `precision="float32"`; one at a time is float32 either way (batches under 64 never use bfloat16). The load
average is printed with the results: on a shared host, other processes' work shows up as wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_cli(model: str, repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + sys; what the process itself used, robust to other load) of each
    `sketchtool generate --n 50 --out grid.svg` process."""
    exe = shutil.which("sketchtool") or sys.exit("sketchtool is not on PATH; pip install -e . first")
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            out = Path(tmp, f"grid{i}.svg")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([exe, "generate", "--model", model, "--n", "50", "--seed", str(i), "--out", str(out)],
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def time_batched_vs_single(model_ref: str, n: int, single: int, threads: int) -> dict:
    import torch

    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import resolve_model
    from sketchtool.sampling import SampleOptions, generate

    torch.set_num_threads(threads)
    model, info = load_model(resolve_model(model_ref))
    generate(model, info, 4, SampleOptions(seed=0))  # warm-up: first-call allocations and kernels
    generate(model, info, 64, SampleOptions(seed=0))  # ... and the bfloat16 kernels
    start = time.perf_counter()
    batched = generate(model, info, n, SampleOptions(seed=1, chunk_size=n))
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    batched_fp32 = generate(model, info, n, SampleOptions(seed=1, chunk_size=n, precision="float32"))
    t_batched_fp32 = time.perf_counter() - start
    start = time.perf_counter()
    one_by_one = [d for i in range(single) for d in generate(model, info, 1, SampleOptions(seed=100 + i))]
    t_single = time.perf_counter() - start
    return {
        "n": n,
        "batched_s": round(t_batched, 2),
        "batched_per_s": round(n / t_batched, 1),
        "single_measured": single,
        "single_s": round(t_single, 2),
        "single_per_s": round(single / t_single, 2),
        "single_extrapolated_s": round(t_single * n / single, 1),
        "speedup": round((t_single / single) / (t_batched / n), 1),
        # per point drawn: the 50 one-at-a-time drawings need not average the batch's length
        "speedup_per_point": round((t_single / _points(one_by_one)) / (t_batched / _points(batched)), 1),
        "batched_float32_s": round(t_batched_fp32, 2),
        "speedup_float32": round((t_single / single) / (t_batched_fp32 / n), 1),
        "mean_points_batched": round(_mean_points(batched), 1),
        "mean_points_batched_float32": round(_mean_points(batched_fp32), 1),
        "mean_points_single": round(_mean_points(one_by_one), 1),
        "hparams": {k: info.hparams.get(k) for k in ("dec_model", "dec_rnn_size", "enc_rnn_size", "z_size",
                                                      "num_mixture", "max_seq_len")},
    }


def _points(drawings: list) -> int:
    return sum(len(d) for d in drawings)


def _mean_points(drawings: list) -> float:
    return _points(drawings) / len(drawings)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sheep", help="run dir, checkpoint or embedded name")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--single", type=int, default=50, help="drawings sampled one at a time (extrapolated)")
    parser.add_argument("--repeats", type=int, default=5, help="CLI runs (median reported)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    result = {"machine": machine()}
    walls, cpus = time_cli(args.model, args.repeats)
    result["cli_generate_50"] = {"median_wall_s": round(statistics.median(walls), 2),
                                 "min_wall_s": round(min(walls), 2),
                                 "median_cpu_s": round(statistics.median(cpus), 2),
                                 "wall_runs": [round(t, 2) for t in walls]}
    result["sampling"] = time_batched_vs_single(args.model, args.n, args.single, args.threads)
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
