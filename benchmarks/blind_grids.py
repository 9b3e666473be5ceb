"""Grids for a blind count of issue 12's target, "in the README grid at least 40 of 50 drawings a person calls a
sheep". A reader who knows which model drew a grid counts with a bias, and one grid is one draw of a random grid
(the README's `generate --n 50` picks a random seed), so this writes several unlabelled grids in shuffled order:
each model's `generate --n 50 --seed S` for every seed, and as a calibration the same number of real test drawings
(`show --split test --n 50 --seed S`), with the written rule to give each reader and a key to keep from them.

    python benchmarks/blind_grids.py --model sheep --model candidate.pt [--data aaron_sheep.npz] [--seeds 0,1] \
        [--out blind] [--shuffle-seed 0]
    # each reader gets blind/RULE.md and blind/grid-*.png and answers with a count per grid; then
    python benchmarks/blind_grids.py --tally blind/counts.json [--out blind]

counts.json maps a reader to their counts per grid, e.g. {"reader 1": {"grid-1": 41, ...}, ...}; --tally prints
the counts per model and seed with the key applied, and each source's mean.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"
RULE = """# Count the sheep

Each image is a grid of 50 line drawings. For each grid, count the drawings that read as a sheep: a body with
legs, or a recognisable head and body. Do not count a fragment, a legless blob or cloud, a tangle of loops, a box,
or another object. Look at every cell; answer with one number per grid (`grid-1: N`, ...) and, in a line each,
the kinds of drawing you did not count. The grids are in no particular order and may come from different sources.
"""


def _sketchtool(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sketchtool", *args], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"sketchtool {' '.join(args)} failed: {done.stderr.strip()[-500:]}")


def write_grids(models: list[str], data: Path, seeds: list[int], out: Path, shuffle_seed: int) -> None:
    sources = [(model, seed) for model in models for seed in seeds] + [("test drawings", seed) for seed in seeds]
    random.Random(shuffle_seed).shuffle(sources)
    out.mkdir(parents=True, exist_ok=True)
    key = {}
    for i, (source, seed) in enumerate(sources, 1):
        png = out / f"grid-{i}.png"
        if source == "test drawings":
            _sketchtool("show", str(data), "--split", "test", "--n", "50", "--seed", str(seed), "-o", str(png))
        else:
            _sketchtool("generate", "--model", source, "--n", "50", "--seed", str(seed), "--out", str(png), "--force")
        key[png.stem] = {"source": source, "seed": seed}
    (out / "RULE.md").write_text(RULE)
    (out / "key.json").write_text(json.dumps(key, indent=1) + "\n")
    print(f"wrote {len(key)} grids, RULE.md and key.json (keep it from the readers) in {out}")


def tally(counts_file: Path, out: Path) -> None:
    key = json.loads((out / "key.json").read_text())
    counts = json.loads(counts_file.read_text())
    readers = list(counts)
    print("| grid (50 drawings) | " + " | ".join(readers) + " | mean |")
    print("|---" * (len(readers) + 2) + "|")
    by_source: dict[str, list[int]] = {}
    for grid, what in sorted(key.items(), key=lambda kv: (kv[1]["source"], kv[1]["seed"])):
        row = [counts[r][grid] for r in readers]
        by_source.setdefault(what["source"], []).extend(row)
        print(f"| {what['source']}, seed {what['seed']} | " + " | ".join(map(str, row)) +
              f" | {sum(row) / len(row):.1f} |")
    for source, row in by_source.items():
        print(f"{source}: mean {sum(row) / len(row):.1f} of 50 over {len(row)} counts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="a model to draw grids with (repeat)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", default="0,1", help="grid seeds, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("blind"))
    parser.add_argument("--shuffle-seed", type=int, default=0)
    parser.add_argument("--tally", type=Path, help="counts.json to read back against the key")
    args = parser.parse_args()
    if args.tally:
        tally(args.tally, args.out)
    elif args.model:
        write_grids(args.model, args.data, [int(s) for s in args.seeds.split(",")], args.out, args.shuffle_seed)
    else:
        parser.error("give --model (repeat for each model) or --tally")


if __name__ == "__main__":
    main()
