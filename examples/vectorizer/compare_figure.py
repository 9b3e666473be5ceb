"""docs/images/vectorize-compare.png: test pictures (top row) and their strokes by each method below, every
polyline in its own colour, so pen lifts can be counted by eye.

    python examples/vectorizer/compare_figure.py sheep28.npz kanji28.npz -o docs/images/vectorize-compare.png

Each DATA is an image dataset (`sketchtool rasterize DRAWINGS.npz -o DATA --size 28`); the first `--per-set`
test pictures of each are shown. Rows: the skeleton tracer, the embedded vectorizer as trained (6 strokes),
`--strokes 2 --refine 30` (sheep), `--strokes 4 --refine 60` (kanji) and `--strokes 1 --refine 60`.
"""

from __future__ import annotations

import argparse

import numpy as np

ROWS = [("skeleton tracer", dict(method="skeleton")),
        ("agent, 6 strokes", dict(method="agent")),
        ("--strokes 2 --refine 30", dict(method="agent", strokes=2, refine=30)),
        ("--strokes 4 --refine 60", dict(method="agent", strokes=4, refine=60)),
        ("--strokes 1 --refine 60", dict(method="agent", strokes=1, refine=60))]
PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+")
    parser.add_argument("-o", "--out", required=True)
    parser.add_argument("--per-set", type=int, default=6)
    parser.add_argument("--scale", type=int, default=5, help="output pixels per canvas pixel")
    args = parser.parse_args()

    import torch
    from PIL import Image, ImageDraw

    from sketchtool.checkpoint import load_model
    from sketchtool.fileio import atomic_write
    from sketchtool.images import load_image_dataset
    from sketchtool.pretrained import DEFAULT_VECTORIZER, EMBEDDED
    from sketchtool.vectorize import vectorize

    torch.set_num_threads(1)
    model, _ = load_model(EMBEDDED[DEFAULT_VECTORIZER].path)
    pictures = [p for path in args.data for p in load_image_dataset(path).images("test")[:args.per_set]]
    size = pictures[0].shape[0]
    cell = size * args.scale
    label = 150
    sheet = Image.new("RGB", (label + cell * len(pictures), cell * (len(ROWS) + 1)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, cell // 2), "picture", fill="black")
    for j, picture in enumerate(pictures):
        grey = Image.fromarray((255 * (1 - np.clip(picture, 0, 1))).astype(np.uint8)).resize((cell, cell), Image.NEAREST)
        sheet.paste(grey, (label + j * cell, 0))
    for i, (name, options) in enumerate(ROWS, start=1):
        results = vectorize(pictures, model=model if options["method"] == "agent" else None,
                            size=size if options["method"] == "skeleton" else None, **options)
        draw.text((4, i * cell + cell // 2 - 12), name, fill="black")
        draw.text((4, i * cell + cell // 2 + 2), f"{np.mean([len(r.polylines) for r in results]):.1f} lines",
                  fill="gray")
        for j, result in enumerate(results):
            x0, y0 = label + j * cell, i * cell
            for k, line in enumerate(result.polylines):
                xy = [(x0 + float(x) * args.scale, y0 + float(y) * args.scale) for x, y in line]
                colour = PALETTE[k % len(PALETTE)]
                if len(xy) == 1:
                    (x, y), = xy
                    draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
                else:
                    draw.line(xy, fill=colour, width=max(1, args.scale // 2), joint="curve")
        draw.line((label, i * cell, sheet.width, i * cell), fill=(220, 220, 220))
    with atomic_write(args.out) as f:
        sheet.save(f, format="PNG", optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
