"""Merge image datasets of one size into one, each source a class: the vectorizer's training collection.

    python examples/vectorizer/merge_images.py sheep=sheep28.npz kanji=kanji28.npz icon=icons28.npz \
        digit=mnist-v2.npz -o lines28.npz

Each split is the sources' splits concatenated in the order given (a source without a split adds nothing to it);
the labels become the source names (`sketchtool info` counts each collection). `--unlabelled` writes one class,
so a run can start (`train --init`) from an agent trained on one unlabelled collection: an agent ignores labels,
but `--init` keeps a model's classes.
"""

from __future__ import annotations

import argparse

import numpy as np

from sketchtool.images import ImageDataset, load_image_dataset, save_image_dataset

SPLITS = ("train", "valid", "test")


def merge(sources: dict[str, ImageDataset], labelled: bool = True) -> ImageDataset:
    shapes = {name: ds.image_shape for name, ds in sources.items()}
    if len(set(shapes.values())) != 1:
        raise SystemExit(f"error: the images differ in size: {shapes}")
    splits = {s: np.concatenate([ds.splits[s] for ds in sources.values()]) for s in SPLITS}  # uint8 ink
    labels = {s: np.concatenate([np.full(len(ds.splits[s]), i, np.int64) for i, ds in enumerate(sources.values())])
              for s in SPLITS}
    meta = {"source": "merge_images.py", "sources": {name: ds.meta.get("source", "") for name, ds in sources.items()}}
    return ImageDataset(splits, labels, list(sources), meta) if labelled else ImageDataset(splits, {}, [], meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", metavar="NAME=DATA.npz")
    parser.add_argument("-o", "--out", required=True)
    parser.add_argument("--unlabelled", action="store_true", help="one class instead of one per source")
    args = parser.parse_args()
    if not all("=" in s for s in args.sources):
        raise SystemExit("error: give each source as NAME=DATA.npz")
    sources = {name: load_image_dataset(path) for name, path in (s.split("=", 1) for s in args.sources)}
    merged = merge(sources, labelled=not args.unlabelled)
    save_image_dataset(args.out, merged)
    print(f"{args.out}: " + ", ".join(f"{s} {len(merged.splits[s]):,}" for s in SPLITS))


if __name__ == "__main__":
    main()
