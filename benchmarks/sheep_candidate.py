"""Should a new sheep replace the embedded one? The rule every fine-tuning round since session 14 fixed before
scoring, as one command: both models score 1,000 samples on each of ten seeds at the default temperatures against
the test split (`sketchtool score`), and are evaluated on the test and valid splits (`sketchtool eval`); the
candidate ships only if its mean Fréchet distance is lower, it is better on at least 6 of the 10 seeds, its
recognition is at most half a point lower and its test L_R at most 0.02 worse (docs/BENCHMARKS.md, issue 12).

    python benchmarks/sheep_candidate.py CANDIDATE.pt [--base sheep] [--data ../shared/data/aaron_sheep.npz] \
        [--seeds 10] [--first-seed 0] [--n 1000] [--jobs 2] [--out sheep_candidate]

Prints a Markdown table (per-seed distances, the paired difference in standard errors) and the verdict; every
report is kept as JSON in --out. Scores are those of this machine: a seed samples other drawings on another CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"
RECOGNITION_SLACK = 0.005  # at most half a point lower
TEST_LR_SLACK = 0.02
MIN_SEEDS_BETTER = 0.6  # of the seeds


def _sketchtool(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sketchtool", *args], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"sketchtool {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout + done.stderr


def score(role: str, model: str, seed: int, args) -> dict:
    path = args.out / f"{role}-{Path(model).stem}-{seed}.json"
    _sketchtool("score", "--model", model, "--n", str(args.n), "--seed", str(seed), "--ref", f"{args.data}:test",
                "--json", str(path))
    return json.loads(path.read_text())["samples"]


def eval_lr(model: str, split: str, data: Path) -> float:
    line = _sketchtool("eval", model, "--dataset", str(data), "--split", split)
    return float(re.search(r"L_R (-?[0-9.]+)", line).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate")
    parser.add_argument("--base", default="sheep", help="the model to beat (default: the embedded sheep)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds FIRST..FIRST+SEEDS-1 (a held-out check)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2, help="scores run at once, one thread each")
    parser.add_argument("--out", type=Path, default=Path("sheep_candidate"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models = {"base": args.base, "candidate": args.candidate}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(role, seed) for seed in seeds for role in models]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(lambda job: score(job[0], models[job[0]], job[1], args), jobs)))
    rows, figures = [], {}
    for role, model in models.items():
        runs = [results[role, seed] for seed in seeds]
        frechet = np.array([r["frechet"] for r in runs])
        f = figures[role] = {
            "frechet": frechet, "recognition": np.mean([r["recognition"] for r in runs]),
            "test_lr": eval_lr(model, "test", args.data), "valid_lr": eval_lr(model, "valid", args.data)}
        hit_max = 1 - np.mean([r["strokes"]["ended_by_itself"] for r in runs])
        rows.append(f"| {role}: {model} | **{frechet.mean():.2f}** ({' / '.join(f'{x:.2f}' for x in frechet)}) | "
                    f"{np.mean([r['precision'] for r in runs]):.3f} | {np.mean([r['recall'] for r in runs]):.3f} | "
                    f"{f['recognition']:.2%} | {hit_max:.2%} | "
                    f"{np.mean([r['strokes']['strokes_distance'] for r in runs]):.2f} | {f['test_lr']:.4f} | "
                    f"{f['valid_lr']:.4f} |")
    print(f"| model | Fréchet, mean (seeds {seeds[0]}-{seeds[-1]}) | precision | recall | recognised | hit max_seq_len | "
          "strokes W1 | test L_R | valid L_R |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    base, cand = figures["base"], figures["candidate"]
    diff = cand["frechet"] - base["frechet"]
    better = int((diff < 0).sum())
    sd = diff.std(ddof=1) if len(diff) > 1 else 0.0
    errors = f"{abs(diff.mean()) / (sd / np.sqrt(len(diff))):.1f} standard errors" if sd > 0 else "no spread"
    print(f"\nFréchet difference {diff.mean():+.2f} ({errors}; per-seed sd {sd:.2f}), better on {better} of "
          f"{len(diff)} seeds; recognition "
          f"{100 * (cand['recognition'] - base['recognition']):+.2f} points; test L_R "
          f"{cand['test_lr'] - base['test_lr']:+.4f}")
    checks = {"lower mean Fréchet": diff.mean() < 0,
              f"better on >= {MIN_SEEDS_BETTER:.0%} of seeds": better >= MIN_SEEDS_BETTER * len(diff),
              "recognition at most half a point lower": cand["recognition"] >= base["recognition"] - RECOGNITION_SLACK,
              "test L_R at most 0.02 worse": cand["test_lr"] <= base["test_lr"] + TEST_LR_SLACK}
    failed = [name for name, ok in checks.items() if not ok]
    print("verdict: " + ("ship" if not failed else "keep the base (fails: " + "; ".join(failed) + ")"))


if __name__ == "__main__":
    main()
