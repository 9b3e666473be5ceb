"""Outputs are written atomically and never over an input."""

from pathlib import Path

import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write, check_output_path


def test_failed_write_leaves_previous_file_intact(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("original")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind


def test_successful_write_replaces_file(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"


def test_existing_output_needs_force(tmp_path: Path):
    out = tmp_path / "a.npz"
    out.write_bytes(b"x")
    with pytest.raises(SketchtoolError, match="--force"):
        check_output_path(out)
    assert check_output_path(out, force=True) == out


def test_input_is_never_overwritten_even_with_force(tmp_path: Path):
    src = tmp_path / "drawing.svg"
    src.write_text("<svg/>")
    with pytest.raises(SketchtoolError, match="overwrite an input"):
        check_output_path(src, inputs=[src], force=True)


def test_missing_output_folder_is_reported(tmp_path: Path):
    with pytest.raises(SketchtoolError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "out.svg")


def test_outputs_get_the_usual_permissions(tmp_path: Path):
    import os

    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
