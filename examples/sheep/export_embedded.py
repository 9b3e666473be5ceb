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
from sketchtool.models.sketch_rnn import Z_TEMPERATURE
from sketchtool.sampling import DEFAULT_TEMPERATURE, SampleOptions, generate, interpolate
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
| Training | {training} (recipe: {recipe}) |
| Test split | L_R {test_lr:.4f}, L_KL {test_kl:.4f}, loss {test_loss:.4f} on {test_n} drawings (`sketchtool eval {name}`, seed 0) |
| Validation split | L_R {valid_lr:.4f}, L_KL {valid_kl:.4f}, loss {valid_loss:.4f} on {valid_n} drawings (`sketchtool eval {name} --split valid`, seed 0) |
| Samples that end by themselves | {ended:.1%} of 1,000 at the default temperatures ({temperature:g}, z {z_temperature:g}) before max_seq_len {max_len} (median {sample_median:.0f} points; test drawings' median {test_median:.0f}) |
| Judged (`sketchtool score`) | the same 1,000: Fréchet distance {frechet:.1f} to the test split (train-vs-test floor {floor:.1f}, {ratio:.1f}x), recognised as sheep {recognition:.1%} (floor {floor_recognition:.1%}), precision {precision:.3f}, recall {recall:.3f} (seed 0, each drawing its own random stream; another CPU samples other drawings) |
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


def judged(model, info, dataset: Path, temperature: float, n: int = 1000) -> dict:
    """`sketchtool score --model NAME --n 1000 --seed 0 --ref DATASET:test` at `temperature`: the share of samples
    that end by themselves before max_seq_len (a model that has not learnt when a drawing is finished scribbles
    on to the limit), their median length, and the judge's figures beside the train-vs-test floor."""
    from sketchtool.formats.npz import load_dataset
    from sketchtool.judge import load_judge
    from sketchtool.score import ScoreOptions, score_samples

    samples = generate(model, info, n, SampleOptions(seed=0, temperature=temperature))
    data = load_dataset(dataset)
    return score_samples(samples, data.splits["test"], data.splits["train"], load_judge(),
                         ScoreOptions(seed=0, max_length=model.hps.max_seq_len))


def training_history(run: str, steps: int) -> str:
    """"N steps with `sketchtool train`", naming the model a fine-tuned run started from (run.json's `init`)."""
    import json

    run_json = Path(run) / "run.json"
    init = json.loads(run_json.read_text()).get("options", {}).get("init") if run_json.is_file() else None
    if init is None:
        return f"{steps} steps with `sketchtool train`"
    return f"{steps} steps with `sketchtool train --init {init}` on top of the model it started from"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory (best.pt) or checkpoint")
    parser.add_argument("--name", required=True, choices=sorted(EMBEDDED))
    parser.add_argument("--dataset", default=None, help="dataset (default: the one stored in the checkpoint)")
    parser.add_argument("--recipe", default="examples/sheep/README.md")
    parser.add_argument("--note", default="", help="a sentence on quality, shown at the top of the card")
    parser.add_argument("--training", default=None,
                        help="how it was trained, for the card (default: its steps, and the model it started from)")
    parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                        help="sampling temperature of the sample grid and the figures (default: the commands')")
    args = parser.parse_args()
    embedded = EMBEDDED[args.name]
    export_model(args.run, embedded.path)
    # the figures `sketchtool eval NAME [--split valid]` prints (the shipped fp16 weights, evaluation seed 0): one
    # source of truth for the checkpoint, `sketchtool models` and the card, also for a model averaged from snapshots
    # (average.py), which has no validation of its own
    metrics = {split: evaluate(embedded.path, split=split, dataset=args.dataset) for split in ("valid", "test")}
    info = export_model(embedded.path, embedded.path, metrics=metrics)
    test, valid = metrics["test"], metrics["valid"]
    model, info = load_model(embedded.path)
    dataset = Path(args.dataset or info.dataset["path"])
    draw_images(args.name, model, info, dataset, args.temperature)
    report = judged(model, info, dataset, args.temperature)
    samples, floor = report["samples"], report["floor"]
    test_median = float(np.median([len(d) for d in read_drawings(f"{dataset}:test")]))
    card = CARD.format(
        name=args.name, note=args.note, temperature=args.temperature, z_temperature=Z_TEMPERATURE,
        model=info.model, dataset=embedded.dataset, licence=embedded.licence,
        training=args.training or training_history(args.run, info.step), recipe=args.recipe, test_lr=test["L_R"],
        test_kl=test["L_KL"], test_loss=test["loss"], test_n=test["items"],
        ended=samples["strokes"]["ended_by_itself"], sample_median=samples["strokes"]["points_median"],
        test_median=test_median, frechet=samples["frechet"], floor=floor["frechet"],
        ratio=samples["frechet"] / floor["frechet"], recognition=samples["recognition"],
        floor_recognition=floor["recognition"], precision=samples["precision"], recall=samples["recall"],
        max_len=info.hparams["max_seq_len"], size_mb=embedded.path.stat().st_size / 1e6, scale_factor=info.scale_factor,
        valid_lr=valid["L_R"], valid_kl=valid["L_KL"], valid_loss=valid["loss"], valid_n=valid["items"],
        date=datetime.date.today().isoformat(),
        hparams=", ".join(f"`{k}={info.hparams[k]}`" for k in HPARAMS_SHOWN if k in info.hparams))
    embedded.card_path.write_text(card)
    print(f"exported {resolve_checkpoint(args.run)} -> {embedded.path} ({embedded.path.stat().st_size / 1e6:.2f} MB), "
          f"step {info.step}, test L_R {test['L_R']:.4f} L_KL {test['L_KL']:.4f}")


if __name__ == "__main__":
    main()
