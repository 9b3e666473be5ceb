"""Does a class-conditional model draw the class it is asked for? `sketchtool score`'s judge names each sample;
recognition is the share it calls the intended class (issue 14: Gated PixelCNN digits, target >= 90%).

    OMP_NUM_THREADS=1 python benchmarks/class_recognition.py --model run-cond [--per-class 50] [--seed 1]
        [--class-format "digit {name}"] [--copies mnist-v2.npz]

The model's class names map to the judge's classes through --class-format (MNIST's "3" -> the judge's "digit 3").
Prints per-class and overall recognition as JSON. A model that copied its training images would be recognised
too: `--copies DATA` adds each sample's Hamming distance to its nearest training image (both binarised at 0.5),
with the same for the test images beside it (median and share within 20 pixels).
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
    parser.add_argument("--copies", help="image dataset the model trained on: how near samples come to its train split")
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
    hits, drawn = [], []
    started = time.perf_counter()
    for index, name in enumerate(info.class_names):
        wanted = args.class_format.format(name=name, index=index)
        if wanted not in judge.classes:
            raise SystemExit(f"the judge has no class {wanted!r}; give --class-format")
        samples = generate(model, info, args.per_class,
                           SampleOptions(seed=args.seed + index, temperature=args.temperature, class_name=name))
        images = samples.images if hasattr(samples, "images") else samples
        drawn.append(np.asarray(images))
        _, called = judge.features(images)
        ok = np.array([judge.classes[c] == wanted for c in called])
        hits.append(ok)
        report["classes"][name] = float(ok.mean())
    report["recognition"] = float(np.concatenate(hits).mean())
    report["seconds"] = time.perf_counter() - started
    if args.copies:
        report["nearest_train_hamming"] = nearest_train(args.copies, np.concatenate(drawn))
    print(json.dumps(report, indent=1))


def nearest_train(path: str, samples: np.ndarray) -> dict:
    """Median Hamming distance (pixels) from each sample, and from as many random test images, to the nearest train
    image; the share within 20 pixels."""
    from sketchtool.images import load_image_dataset

    data = load_image_dataset(path)
    def flat(x, scale):
        return (np.asarray(x, dtype=np.float32).reshape(len(x), -1) > 0.5 * scale).astype(np.float32)

    train = flat(data.splits["train"], 255)
    out = {}
    test = data.splits["test"][np.random.default_rng(0).permutation(len(data.splits["test"]))[:len(samples)]]
    for name, images in (("samples", flat(samples, 1)), ("test", flat(test, 255))):
        distance = images.sum(1)[:, None] + train.sum(1)[None] - 2 * images @ train.T
        nearest = distance.min(1)
        out[name] = {"median": float(np.median(nearest)), "within_20": float((nearest <= 20).mean())}
    return out


if __name__ == "__main__":
    main()
