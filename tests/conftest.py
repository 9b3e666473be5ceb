"""Shared fixtures: paths to real data, skipping with a stated reason where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = Path(os.environ.get("SKETCHTOOL_SHARED", ROOT.parent / "shared"))
SHEEP = SHARED / "data" / "aaron_sheep.npz"


def pytest_configure(config):
    """The test process is configured as the CLI configures its own: one torch thread on small hosts (the library
    never sets process state)."""
    from sketchtool.device import configure_threads

    configure_threads(None)


@pytest.fixture(scope="session")
def sheep_path() -> Path:
    """The sketch-rnn Sheep Market dataset (../shared/data/aaron_sheep.npz); CI has it, a user's clone may not."""
    if not SHEEP.is_file():
        pytest.skip(f"needs {SHEEP} (the aaron_sheep dataset, not shipped with the repository)")
    return SHEEP


@pytest.fixture(scope="session")
def subset(sheep_path, tmp_path_factory):
    """Real sheep drawings of at most 60 points: 400 train, 48 valid, the 27 such test drawings."""
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import load_dataset, save_dataset

    full = load_dataset(sheep_path)
    short = {k: [d for d in full.splits[k] if len(d) <= 60] for k in full.splits}
    ds = StrokeDataset(splits={"train": short["train"][:400], "valid": short["valid"][:48], "test": short["test"][:48]},
                       settings={"epsilon": 1.5, "size": 256.0})
    path = tmp_path_factory.mktemp("data") / "sheep_small.npz"
    save_dataset(path, ds)
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_model(sheep_path, tmp_path_factory) -> Path:
    """A run directory of a tiny conditional Sketch-RNN trained by `sketchtool.train` for a few steps on short
    aaron_sheep drawings (seconds on one thread): real weights and checkpoints, not a good model."""
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import load_dataset, save_dataset
    from sketchtool.train import TrainOptions, resolve_hparams, train

    folder = tmp_path_factory.mktemp("tiny")
    sheep = load_dataset(sheep_path)
    short = {split: [d for d in drawings if len(d) <= 64][:size]
             for (split, drawings), size in zip(sheep.splits.items(), (400, 32, 32))}
    save_dataset(folder / "short_sheep.npz", StrokeDataset(splits=short))
    hps = resolve_hparams("sketch-rnn", overrides={
        "max_seq_len": 64, "enc_rnn_size": 24, "dec_rnn_size": 48, "z_size": 8, "num_mixture": 3, "batch_size": 16,
        "learning_rate": 0.003, "use_recurrent_dropout": False})
    train(folder / "short_sheep.npz", folder / "run", hps=hps, options=TrainOptions(steps=30, save_every=30))
    return folder / "run"


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory) -> Path:
    """scikit-learn's 8x8 digits saved as an image dataset (`tests/image_data.py`); skips without scikit-learn."""
    from image_data import digits_image_dataset
    from sketchtool.images import save_image_dataset

    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    save_image_dataset(path, digits_image_dataset())
    return path
