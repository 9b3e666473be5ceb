"""Average the weights of several snapshots of one run into one checkpoint (Polyak averaging, as in SWA). The
embedded sheep is such an average: single snapshots of the fine-tuning run scored up to 10 Fréchet points apart,
and the mean of all eight, chosen before scoring, beat five of them (docs/BENCHMARKS.md, issue 12).

    python examples/sheep/average.py OUT.pt SNAPSHOT.pt [SNAPSHOT.pt ...]
"""

from __future__ import annotations

import argparse

from sketchtool.checkpoint import average_checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the averaged checkpoint to write")
    parser.add_argument("snapshots", nargs="+", help="checkpoints of one run (the last gives step and hparams)")
    args = parser.parse_args()
    info = average_checkpoints(args.snapshots, args.out)
    print(f"averaged {len(args.snapshots)} snapshots (steps {info.metrics['averaged_steps']}) -> {args.out}")


if __name__ == "__main__":
    main()
