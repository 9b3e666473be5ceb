"""Outputs are written atomically and never over an input."""

from pathlib import Path

import numpy as np
import pytest

from sketchtool.checkpoint import read_checkpoint
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write, check_output_path
from sketchtool.formats.npz import load_dataset
from sketchtool.images import load_any_dataset


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


def test_a_file_in_an_input_folder_is_never_overwritten_but_new_files_may_go_there(tmp_path: Path):
    """An input run directory's checkpoint was overwritten by a report written with --force."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"weights")
    with pytest.raises(SketchtoolError, match="a file in the input folder"):
        check_output_path(run / "best.pt", inputs=[run], force=True)
    with pytest.raises(SketchtoolError, match="a file in the input folder"):
        check_output_path(run / "best.pt", inputs=[tmp_path], force=True)  # deeper down too
    assert check_output_path(run / "report.json", inputs=[run]) == run / "report.json"


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


def _damaged_copies(data: bytes, seed: int = 0) -> list[bytes]:
    """Truncations at every scale and seeded byte flips of a real file: what a broken download or disk gives."""
    rng = np.random.default_rng(seed)
    cuts = sorted({0, 1, 4, 5, 8, 16, 64, 100, 1000, 5000, len(data) // 2, len(data) - 22, len(data) - 1})
    copies = [data[:c] for c in cuts if c < len(data)]
    for flips in (1, 5, 50) * 12:
        damaged = bytearray(data)
        for i in rng.integers(0, len(data), flips):
            damaged[i] = int(rng.integers(0, 256))
        copies.append(bytes(damaged))
    return copies


def _stroke_dataset(path: Path) -> None:
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import save_dataset

    rng = np.random.default_rng(0)
    drawings = [np.c_[rng.integers(-20, 20, (n, 2)), rng.random(n) < 0.2].astype(np.int16) for n in range(5, 45)]
    save_dataset(path, StrokeDataset(splits={"train": drawings[:30], "valid": drawings[30:35], "test": drawings[35:]}))


def _image_dataset(path: Path) -> None:
    from sketchtool.images import ImageDataset, save_image_dataset

    pixels = np.random.default_rng(0).integers(0, 256, (3, 10, 8, 8)).astype(np.uint8)
    save_image_dataset(path, ImageDataset(splits=dict(zip(("train", "valid", "test"), pixels))))


def _checkpoint(path: Path) -> None:
    import shutil

    from sketchtool.pretrained import EMBEDDED

    shutil.copy(EMBEDDED["kanji"].path, path)


@pytest.mark.parametrize("make, reader", [
    (_stroke_dataset, load_dataset),
    (_image_dataset, load_any_dataset),
    (_checkpoint, read_checkpoint),
])
def test_a_damaged_file_is_one_clear_error(tmp_path: Path, make, reader):
    """Every damaged copy of a real dataset or checkpoint either still reads or raises SketchtoolError (the CLI's
    one-line message). Before, a bad deflate stream (zlib.error), a seek past a truncated end (OSError), a cut-off
    header (struct.error) or an unknown zip version (NotImplementedError) escaped as an internal error."""
    original = tmp_path / "original"
    make(original)
    reader(original)  # the undamaged file reads
    damaged = tmp_path / "damaged"
    outcomes = []
    for data in _damaged_copies(original.read_bytes()):
        damaged.write_bytes(data)
        try:
            reader(damaged)
            outcomes.append("read")
        except SketchtoolError:
            outcomes.append("refused")
    assert "refused" in outcomes


def test_a_terminated_command_leaves_no_temporary_file(tmp_path: Path):
    """SIGTERM killed Python at once: an 8 MB `.g.png.XXXX.tmp` stayed beside the output. The CLI's handler turns
    it into an exception, so the write in progress removes its temporary file."""
    import signal
    import subprocess
    import sys

    script = ("import signal, sys, time\n"
              "from sketchtool.cli import _terminate\n"
              "from sketchtool.fileio import atomic_write\n"
              "signal.signal(signal.SIGTERM, _terminate)  # as sketchtool.cli.main does\n"
              "with atomic_write(sys.argv[1]) as f:\n"
              "    f.write(b'half'); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "out.png")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".out.png.")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0 and list(tmp_path.iterdir()) == []


def test_a_terminated_build_says_so_in_one_line(tmp_path: Path):
    """Stopping build-dataset printed ~40 lines of its workers' tracebacks (BrokenPipeError, KeyboardInterrupt)."""
    import signal
    import subprocess
    import sys
    import time

    source = tmp_path / "svgs"
    source.mkdir()
    for i in range(20_000):
        (source / f"{i:05d}.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L100 0 L100 '
                                             f'{5 + i}" stroke="black"/></svg>')
    out = tmp_path / "out.npz"
    proc = subprocess.Popen([sys.executable, "-m", "sketchtool", "build-dataset", str(source), "-o", str(out),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    assert proc.poll() is None, "the build ended before it could be stopped; give it more files"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip() == "Terminated."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svgs"]


def test_a_file_that_appears_while_a_command_runs_is_not_written_over(tmp_path: Path):
    """Without --force an output is checked free at the start; a file written there meanwhile (the user's, another
    run's) was replaced at the end without a word."""
    out = tmp_path / "out.npz"
    check_output_path(out)
    out.write_text("precious")  # e.g. `echo ... > out.npz` while a long build-dataset runs
    with pytest.raises(SketchtoolError, match="appeared while this ran, so it was left as it is; pass --force"):
        with atomic_write(out) as f:
            f.write(b"new")
    assert out.read_text() == "precious" and sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
    check_output_path(out, force=True)  # asked to overwrite: it does
    with atomic_write(out) as f:
        f.write(b"new")
    assert out.read_bytes() == b"new"
    fresh = tmp_path / "fresh.svg"
    check_output_path(fresh)
    for text in (b"one", b"two"):  # still free at its first write; a command may then rewrite its own output
        with atomic_write(fresh) as f:
            f.write(text)
    assert fresh.read_bytes() == b"two" and sorted(p.name for p in tmp_path.iterdir()) == ["fresh.svg", "out.npz"]


def test_the_longest_file_name_the_file_system_takes_can_be_written(tmp_path: Path):
    out = tmp_path / ("c" * 251 + ".svg")  # 255 bytes: "File name too long" from the temporary file's name
    with atomic_write(out) as f:
        f.write(b"ok")
    assert out.read_bytes() == b"ok" and len(list(tmp_path.iterdir())) == 1
    accented = tmp_path / ("é" * 125 + ".svg")  # 254 bytes, cut between characters' bytes for the temporary name
    with atomic_write(accented) as f:
        f.write(b"ok")
    assert accented.read_bytes() == b"ok"
