"""The number a better embedded sheep will be judged by: `sketchtool score --model sheep --n 1000` at several
temperatures against aaron_sheep's test split, with the train-vs-test floor and the trivial baseline, as one
Markdown table (and every report as JSON beside it).

    python benchmarks/score_sheep.py [--data ../shared/data/aaron_sheep.npz] [--model sheep] [--n 1000] \
        [--temperatures 0.2,0.3,0.4] [--pen-temperature T] [--seed 0] [--out score_sheep]

--pen-temperature paper samples the pen state at each temperature itself (magenta's Python sampler); by default
it is the sampler's default (magenta-js's 0.5 + 0.5·τ).

Each temperature runs the real command (`sketchtool score ... --json OUT/T.json`); the seed fixes the samples,
the floor's train subset and the baseline, so a rerun gives the same table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"


def row(label: str, r: dict) -> str:
    s = r.get("strokes", {})
    ended = f"{s['ended_by_itself']:.1%}" if "ended_by_itself" in s else "-"
    return (f"| {label} | {r['frechet']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | {r['recognition']:.1%} "
            f"| {ended} | {s.get('points_median', 0):.0f} | {s.get('points_distance', 0):.1f} "
            f"| {s.get('strokes_distance', 0):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--model", default="sheep")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--temperatures", default="0.2,0.3,0.4")
    parser.add_argument("--pen-temperature", default=None, help='a number, or "paper" for the temperature itself')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="score_sheep")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    lines = ["| set | Fréchet | precision | recall | recognised | ended by itself | median points | points W1 "
             "| strokes W1 |", "|---|---|---|---|---|---|---|---|---|"]
    report = None
    for t in args.temperatures.split(","):
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "sketchtool", "score", "--model", args.model, "--n", str(args.n),
               "--temperature", t, "--seed", str(args.seed), "--ref", f"{args.data}:test",
               "--json", str(out / f"{t}.json"), "--force"]
        if args.pen_temperature is not None:
            cmd += ["--pen-temperature", t if args.pen_temperature == "paper" else args.pen_temperature]
        subprocess.run(cmd, check=True, stdout=sys.stderr)  # the table alone on stdout
        report = json.loads((out / f"{t}.json").read_text())
        how = "" if args.pen_temperature is None else f", pen temperature {cmd[-1]}"
        lines.append(row(f"{args.model}, temperature {t}{how}", report["samples"]))
        print(f"temperature {t}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    lines.append(row(f"floor: {report['floor_n']} train drawings", report["floor"]))
    lines.append(row("baseline: scribbles", report["baseline"]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
