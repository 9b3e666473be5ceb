"""Ship a trained strokenet-agent as the embedded vectorizer: measure it on the test split (loss terms, and ink F1 of
its strokes redrawn by THE rasteriser, per collection), export it inference-only in fp16 to
sketchtool/pretrained/vectorizer.pt and write the model card vectorizer.md from the numbers just measured.

    python examples/vectorizer/export_vectorizer.py judge-data/vectorizer28 --data judge-data/lines28.npz
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np

from sketchtool.checkpoint import export_model, load_model, resolve_checkpoint
from sketchtool.images import load_image_dataset
from sketchtool.pretrained import EMBEDDED
from sketchtool.train import evaluate
from sketchtool.vectorize import render_polylines, score_reconstruction, vectorize

CARD = """# `vectorizer`: embedded StrokeNet agent

What `sketchtool vectorize --method agent` uses without `--model`: a recurrent StrokeNet agent that reads a
picture of line art fitted to a {size} x {size} canvas and draws it in {strokes} pen strokes of {points} points each
(docs/strokenet.md). On 28-pixel sheep and digits its strokes cover the ink as well as the skeleton tracer's
(`--method skeleton`, the default); on kanji and on larger pictures the tracer is more faithful (docs/BENCHMARKS.md).

| | |
|---|---|
| Model | `strokenet-agent` ({describe}); its neural renderer tuned on the agent's own strokes (`tune_renderer_every` {tune}) |
| Data | {dataset}; {train:,} training pictures |
| Licence | {licence} |
| Training | {training}; batches of {batch}, one CPU thread (recipe: `sh examples/vectorizer/build.sh aaron_sheep.npz`) |
| Test split | {test_n:,} pictures: canvas error per picture {real_mse:.2f} drawn by the real rasteriser ({mse:.2f} through the neural renderer) |
| Ink F1 within 2 px (test, strokes redrawn with a 1.5 px pen) | {f1_table} |
| File | {mb:.1f} MB: fp16 tensors and plain containers, loaded with `torch.load(weights_only=True)` |

Exported {date} by `examples/vectorizer/export_vectorizer.py`.

## Limits

- {size} pixels: detail below a pixel of the fitted canvas (a kanji's short strokes) is lost; the strokes are mapped
  back into the picture's own pixels, so they are as precise as the canvas, not the picture.
- {strokes} strokes per picture by default (`--strokes K` changes it); a drawing with many separate pieces needs more.
  With `--refine`, fewer strokes lift the pen less at almost the same fit (sheep, `--strokes 2 --refine 30`:
  2.6 polylines, F1 1.000; kanji, `--strokes 4 --refine 60`: 7.8 polylines, F1 0.998; docs/BENCHMARKS.md).
"""


def f1_by_class(model, data, limit: int) -> dict[str, float]:
    out = {}
    images, labels = data.images("test"), data.labels_of("test")
    for index, name in enumerate(data.class_names):
        targets = images[labels == index][:limit]
        drawn = vectorize(list(targets), method="agent", model=model)
        out[name] = float(np.mean([score_reconstruction(t, render_polylines(r.polylines, r.size, 1.5))["f1"]
                                   for t, r in zip(targets, drawn)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--data", required=True, help="the image dataset it was trained on (lines28.npz)")
    parser.add_argument("--limit", type=int, default=300, help="test pictures per collection for the F1 figures")
    parser.add_argument("-o", "--out", default=str(EMBEDDED["vectorizer"].path))
    parser.add_argument("--training", default=None, help="how it was trained, for the card (default: its steps)")
    args = parser.parse_args()
    embedded = EMBEDDED["vectorizer"]
    source = resolve_checkpoint(args.run)
    test = evaluate(source, split="test", dataset=args.data)
    export_model(source, args.out, metrics={"test": test})
    model, info = load_model(args.out)  # the figures below are the shipped fp16 weights'
    data = load_image_dataset(args.data)
    f1 = f1_by_class(model, data, args.limit)
    card = CARD.format(
        size=model.size[0], strokes=model.hps.steps, points=model.n, describe=model.describe(),
        tune=model.hps.tune_renderer_every, dataset=embedded.dataset, train=len(data.splits["train"]),
        licence=embedded.licence, training=args.training or f"{info.step:,} steps", batch=model.hps.batch_size,
        test_n=int(test.get("items", 0)),
        real_mse=test["real_mse"], mse=test["mse"], mb=Path(args.out).stat().st_size / 1e6,
        f1_table=", ".join(f"{name} {value:.3f}" for name, value in f1.items()),
        date=datetime.date.today().isoformat())
    Path(args.out).with_suffix(".md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
