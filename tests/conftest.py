"""Shared fixtures: paths to real data, skipping with a stated reason where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = Path(os.environ.get("SKETCHTOOL_SHARED", ROOT.parent / "shared"))
SHEEP = SHARED / "data" / "aaron_sheep.npz"


@pytest.fixture(scope="session")
def sheep_path() -> Path:
    """The sketch-rnn Sheep Market dataset (../shared/data/aaron_sheep.npz); CI has it, a user's clone may not."""
    if not SHEEP.is_file():
        pytest.skip(f"needs {SHEEP} (the aaron_sheep dataset, not shipped with the repository)")
    return SHEEP


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
