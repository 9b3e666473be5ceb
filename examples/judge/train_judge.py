"""Train the judge `sketchtool score` uses, on every collection we can get offline, and write its weights.

    python examples/judge/train_judge.py --sheep aaron_sheep.npz --kanji kanji.npz --icons icons.npz \
        --mnist mnist.npz -o sketchtool/pretrained/judge.pt

Classes are the collections (sheep, kanji, icon), MNIST split by digit ("digit 0" ... "digit 9") and "scribble"
(random drawings with the stroke collections' own steps: `sketchtool.score.scribbles`). Stroke
datasets are rasterised by `sketchtool.judge.prepare` (THE rasteriser); each dataset's own train split trains and
its test split measures, so the recorded accuracy is on drawings the judge never saw. See examples/judge/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from sketchtool.errors import SketchtoolError
from sketchtool.images import load_image_dataset
from sketchtool.formats.npz import load_dataset
from sketchtool.judge import TrainOptions, prepare, save_judge, train_judge
from sketchtool.score import scribbles


def collect(args) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], list[str]]:
    """Images (N, 1, 28, 28) and labels per split ("train", "test") from every collection given."""
    classes: list[str] = []
    images: dict[str, list] = {"train": [], "test": []}
    labels: dict[str, list] = {"train": [], "test": []}
    strokes = []
    for name, path in (("sheep", args.sheep), ("kanji", args.kanji), ("icon", args.icons)):
        if path is None:
            continue
        ds = load_dataset(path)
        strokes.append(ds)
        classes.append(name)
        for split in ("train", "test"):
            drawings = ds.splits[split] + (ds.splits["valid"] if split == "train" else [])
            images[split].append(prepare(drawings))
            labels[split].append(np.full(len(drawings), len(classes) - 1))
    if args.mnist is not None:
        ds = load_image_dataset(args.mnist)
        first = len(classes)
        classes += [f"digit {c}" for c in ds.class_names]
        # the test split is Bernoulli-binarised (make_mnist.py's fixed NLL test set) and image models sample binary
        # digits: train on each grey digit and on a binarised copy, so the judge reads both
        grey = ds.splits["train"]
        binary = (np.random.default_rng(args.seed).random(grey.shape) < grey / 255).astype(np.uint8) * 255
        images["train"] += [prepare(grey), prepare(binary)]
        labels["train"] += [ds.labels_of("train") + first] * 2
        images["test"].append(prepare(ds.splits["test"]))
        labels["test"].append(ds.labels_of("test") + first)
    if not classes:
        raise SketchtoolError("give at least one collection")
    if args.scribbles:
        # "not a drawing": random drawings with each stroke collection's own steps and lengths (what a model that
        # learnt the statistics but not the structure draws), so run-on tangles are not read as the nearest class
        rng = np.random.default_rng(args.seed)
        classes.append("scribble")
        for split, count in (("train", args.scribbles), ("test", args.scribbles // 10)):
            made = [d for ds in strokes for d in scribbles(ds.splits["train"], count // len(strokes), rng)]
            images[split].append(prepare(made))
            labels[split].append(np.full(len(made), len(classes) - 1))
    return ({s: torch.cat(v) for s, v in images.items()}, {s: np.concatenate(v) for s, v in labels.items()}, classes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sheep", help="aaron_sheep.npz (stroke-3)")
    parser.add_argument("--kanji", help="kanji.npz built by examples/kanji/build.sh")
    parser.add_argument("--icons", help="icons.npz: lucide-static + feather-icons built by build-dataset")
    parser.add_argument("--mnist", help="mnist.npz built by examples/mnist/make_mnist.py")
    parser.add_argument("--scribbles", type=int, default=6000,
                        help="train drawings of the 'scribble' class (a tenth as many to test); 0: no such class")
    parser.add_argument("--steps", type=int, default=TrainOptions.steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--out", required=True, help="judge weights to write (.pt)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the recipe is deterministic on one thread
    try:
        started = time.perf_counter()
        images, labels, classes = collect(args)
        print(f"{len(classes)} classes; train {len(labels['train'])}, test {len(labels['test'])} images "
              f"({time.perf_counter() - started:.0f} s to rasterise)", flush=True)

        def report(step: int, loss: float) -> None:
            if step % 250 == 0:
                print(f"step {step}: loss {loss:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

        net = train_judge(images["train"], labels["train"], len(classes), TrainOptions(steps=args.steps, seed=args.seed),
                          on_progress=report)
        with torch.no_grad():
            predicted = torch.cat([net(x)[1].argmax(1) for x in images["test"].split(1000)]).numpy()
        per_class = {c: round(float((predicted[labels["test"] == i] == i).mean()), 4)
                     for i, c in enumerate(classes) if (labels["test"] == i).any()}
        collection = np.array([c.split()[0] for c in classes])
        metrics = {"test_accuracy": round(float((predicted == labels["test"]).mean()), 4),
                   "test_collection_accuracy": round(float((collection[predicted] == collection[labels["test"]]).mean()), 4),
                   "test_accuracy_per_class": per_class, "test_images": int(len(predicted)),
                   "train_images": int(len(labels["train"])), "steps": args.steps, "seed": args.seed}
        save_judge(args.out, net, classes, metrics)
    except SketchtoolError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out}: test accuracy {metrics['test_accuracy']:.4f} (collection "
          f"{metrics['test_collection_accuracy']:.4f}); per class {per_class} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
