"""`sketchtool score` speed: the whole report (samples, floor and baseline rows) for 1,000 aaron_sheep drawings
against its test split, against the bare rasterisation of the same 1,000 drawings at the judge's size in the same
run (the ratio says what the judge and the statistics add to the one step no score can skip). Target: seconds.

    python benchmarks/score_speed.py [--data ../shared/data/aaron_sheep.npz] [--n 1000] [--repeats 3]

CPU seconds (process time) are reported beside wall time: on a shared host other processes' work shows as wall
time only. One torch thread, as the CLI uses on small hosts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"


def timed(fn, repeats: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": round(min(walls), 3), "cpu_s": round(min(cpus), 3), "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from sketchtool.formats.npz import load_dataset
    from sketchtool.judge import RASTER, load_judge
    from sketchtool.raster import rasterize_batch
    from sketchtool.score import ScoreOptions, score_samples

    ds = load_dataset(args.data)
    samples = ds.splits["train"][-args.n:]
    judge = load_judge()
    raster = timed(lambda: rasterize_batch(samples, RASTER), args.repeats)
    score = timed(lambda: score_samples(samples, ds.splits["test"], ds.splits["train"], judge,
                                        ScoreOptions(max_length=250)), args.repeats)
    print(json.dumps({
        "n": args.n, "reference": len(ds.splits["test"]), "repeats": args.repeats,
        "score": {k: v for k, v in score.items() if k != "result"},
        "rasterise_only": {k: v for k, v in raster.items() if k != "result"},
        "ratio_cpu": round(score["cpu_s"] / raster["cpu_s"], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, torch {torch.__version__}",
        "load_average": os.getloadavg(),
    }, indent=1))


if __name__ == "__main__":
    main()
