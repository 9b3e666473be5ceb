"""Does a class-conditional model draw the class it is asked for? `sketchtool score`'s judge names each sample;
recognition is the share it calls the intended class (issue 14: Gated PixelCNN digits, target >= 90%).

    OMP_NUM_THREADS=1 python benchmarks/class_recognition.py --model run-cond [--per-class 50] [--seed 1]
        [--class-format "digit {name}"]

The model's class names map to the judge's classes through --class-format (MNIST's "3" -> the judge's "digit 3").
Prints per-class and overall recognition as JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run dir or checkpoint of a class-conditional model")
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--class-format", default="digit {name}", help="the judge's name of model class {name}")
    args = parser.parse_args()

    import torch

    from sketchtool.checkpoint import load_model
    from sketchtool.judge import load_judge
    from sketchtool.sampling import SampleOptions, generate

    torch.set_num_threads(1)
    model, info = load_model(args.model)
    judge = load_judge()
    report = {"model": args.model, "per_class": args.per_class, "seed": args.seed, "temperature": args.temperature,
              "classes": {}}
    hits = []
    started = time.perf_counter()
    for index, name in enumerate(info.class_names):
        wanted = args.class_format.format(name=name, index=index)
        if wanted not in judge.classes:
            raise SystemExit(f"the judge has no class {wanted!r}; give --class-format")
        samples = generate(model, info, args.per_class,
                           SampleOptions(seed=args.seed + index, temperature=args.temperature, class_name=name))
        images = samples.images if hasattr(samples, "images") else samples
        _, called = judge.features(images)
        ok = np.array([judge.classes[c] == wanted for c in called])
        hits.append(ok)
        report["classes"][name] = float(ok.mean())
    report["recognition"] = float(np.concatenate(hits).mean())
    report["seconds"] = time.perf_counter() - started
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
