"""Ship a trained run as an embedded model: evaluate it on the test split, export it inference-only in fp16 to
sketchtool/pretrained/NAME.pt (test losses inside), draw its sample grids into docs/images/ and write its
model card sketchtool/pretrained/NAME.md from the numbers just measured.

    python examples/sheep/export_embedded.py RUN_DIR --name sheep [--dataset DATA.npz] [--note "..."]
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np

from sketchtool.checkpoint import export_model, load_model, resolve_checkpoint
from sketchtool.formats import OutputOptions, read_drawings, write_drawings
from sketchtool.pretrained import EMBEDDED
from sketchtool.sampling import SampleOptions, generate, interpolate
from sketchtool.train import evaluate

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
HPARAMS_SHOWN = ("dec_model", "dec_rnn_size", "enc_model", "enc_rnn_size", "z_size", "num_mixture", "max_seq_len",
                 "batch_size", "learning_rate", "kl_weight", "kl_tolerance", "use_recurrent_dropout")

CARD = """# `{name}`: embedded Sketch-RNN model

{note}

| | |
|---|---|
| Model | Sketch-RNN (`{model}`), conditional VAE (encoder + decoder) |
| Data | {dataset} |
| Licence | {licence} |
| Training | {steps} steps with `sketchtool train` (recipe: {recipe}) |
| Test split | L_R {test_lr:.4f}, L_KL {test_kl:.4f}, loss {test_loss:.4f} on {test_n} drawings (`sketchtool eval {name}`, seed 0) |
| Validation at export | {valid} |
| Samples that end by themselves | {ended:.0%} of 500 at temperature {temperature:g} before max_seq_len {max_len} (median {sample_median:.0f} points; test drawings' median {test_median:.0f}) |
| File | `sketchtool/pretrained/{name}.pt`, {size_mb:.2f} MB (fp16 weights, no optimizer state) |
| Scale factor | {scale_factor:.4f} (dataset units per model unit) |
| Exported | {date} |

Hyper-parameters (magenta names): {hparams}

## Samples

`sketchtool generate --model {name} --n 25 --seed 0 --temperature {temperature:g} --out samples.png`

![samples](../../docs/images/{name}-samples.png)

`sketchtool interpolate A B --model {name} --steps 8` (two test drawings, spherical interpolation):

![interpolation](../../docs/images/{name}-interpolation.png)

## Limits

Trained on one small dataset on a CPU; it draws what that dataset holds and nothing else. L_R is the
reconstruction loss (lower is better, negative for good models on QuickDraw-like data); L_KL is the
KL divergence of the latent code, floored at kl_tolerance during training.
"""


def draw_images(name: str, model, info, dataset: Path, temperature: float) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    samples = generate(model, info, 25, SampleOptions(seed=0, temperature=temperature))
    write_drawings(IMAGES / f"{name}-samples.png", samples, OutputOptions(cols=5))  # = the README caption's command
    ends = [d for d in read_drawings(f"{dataset}:test") if len(d) <= model.hps.max_seq_len][:2]
    rows = interpolate(model, info, ends, 8, SampleOptions(seed=0, temperature=0.2))
    write_drawings(IMAGES / f"{name}-interpolation.png", rows[0], OutputOptions(cols=8, png_width=1000))


def ending(model, info, temperature: float, n: int = 500) -> tuple[float, float]:
    """Share of n samples that reach their end-of-drawing state before max_seq_len, and their median length:
    a model that has not learnt when a drawing is finished scribbles on to the limit."""
    lengths = np.array([len(d) for d in generate(model, info, n, SampleOptions(seed=1, temperature=temperature))])
    return float(np.mean(lengths < model.hps.max_seq_len)), float(np.median(lengths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory (best.pt) or checkpoint")
    parser.add_argument("--name", required=True, choices=sorted(EMBEDDED))
    parser.add_argument("--dataset", default=None, help="dataset (default: the one stored in the checkpoint)")
    parser.add_argument("--recipe", default="examples/sheep/README.md")
    parser.add_argument("--note", default="", help="a sentence on quality, shown at the top of the card")
    parser.add_argument("--temperature", type=float, default=0.3, help="sampling temperature of the sample grid")
    args = parser.parse_args()
    embedded = EMBEDDED[args.name]
    export_model(args.run, embedded.path)
    # the figures `sketchtool eval NAME` prints (the shipped fp16 weights, evaluation seed 0): one source of truth
    # for the checkpoint, `sketchtool models` and the card
    test = evaluate(embedded.path, split="test", dataset=args.dataset)
    info = export_model(embedded.path, embedded.path, metrics={"test": test})
    model, info = load_model(embedded.path)
    dataset = Path(args.dataset or info.dataset["path"])
    draw_images(args.name, model, info, dataset, args.temperature)
    valid = info.metrics.get("valid", {})
    ended, sample_median = ending(model, info, args.temperature)
    test_median = float(np.median([len(d) for d in read_drawings(f"{dataset}:test")]))
    card = CARD.format(
        name=args.name, note=args.note, temperature=args.temperature, model=info.model, dataset=embedded.dataset, licence=embedded.licence,
        steps=info.step, recipe=args.recipe, test_lr=test["L_R"], test_kl=test["L_KL"], test_loss=test["loss"],
        test_n=test["items"], ended=ended, sample_median=sample_median, test_median=test_median,
        max_len=info.hparams["max_seq_len"], size_mb=embedded.path.stat().st_size / 1e6, scale_factor=info.scale_factor,
        valid=", ".join(f"{k} {valid[k]:.4f}" for k in ("L_R", "L_KL", "loss") if k in valid) or "not recorded",
        date=datetime.date.today().isoformat(),
        hparams=", ".join(f"`{k}={info.hparams[k]}`" for k in HPARAMS_SHOWN if k in info.hparams))
    embedded.card_path.write_text(card)
    print(f"exported {resolve_checkpoint(args.run)} -> {embedded.path} ({embedded.path.stat().st_size / 1e6:.2f} MB), "
          f"step {info.step}, test L_R {test['L_R']:.4f} L_KL {test['L_KL']:.4f}")


if __name__ == "__main__":
    main()
