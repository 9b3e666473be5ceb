"""Every command on empty, degenerate and hostile input: one readable error line and a non-zero exit.

One row per (command, input). Real inputs are covered per area (test_cli_data, test_cli_training,
test_cli_sampling, test_plot_cli, test_inkscape_*); this table is the cross-cutting promise that no
command ever answers bad input with a traceback or a silent success.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from sketchtool.cli import cli

HOSTILE = FIXTURES / "svg" / "hostile"


class _Payload:
    def __reduce__(self):  # would create a marker file if anything ever unpickled it
        return (Path.touch, (Path("/tmp/sketchtool-pwned"),))


def _small_dataset(path: Path) -> Path:
    """A valid three-drawing dataset, so a refusal is the option's doing, not the file's."""
    from sketchtool.dataset import StrokeDataset
    from sketchtool.formats.npz import save_dataset

    drawing = np.array([[0, 0, 0], [10, 5, 0], [5, 10, 1]], dtype=np.int16)
    save_dataset(path, StrokeDataset(splits={"train": [drawing] * 3, "valid": [], "test": []}))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    empty_dir = root / "empty_dir"
    empty_dir.mkdir()
    (root / "empty.npz").write_bytes(b"")
    (root / "empty.svg").write_bytes(b"")
    (root / "text.txt").write_text("hello")
    evil = root / "evil.npz"
    with zipfile.ZipFile(evil, "w") as zf:
        header = np.lib.format.header_data_from_array_1_0(np.empty(1, dtype=object))
        with zf.open("train.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            pickle.dump(np.array([_Payload()], dtype=object), f, protocol=2)
    return {"root": root, "empty_dir": empty_dir, "empty_npz": root / "empty.npz", "empty_svg": root / "empty.svg",
            "text": root / "text.txt", "evil_npz": evil, "bomb_svg": HOSTILE / "billion_laughs.svg",
            "xxe_svg": HOSTILE / "xxe_file.svg", "invisible_svg": HOSTILE / "only_invisible.svg",
            "outputs_a_svg": FIXTURES / "sampling" / "sheep_a.svg", "outputs_b_svg": FIXTURES / "sampling" / "sheep_b.svg",
            "outputs_npz": _small_dataset(root / "outputs.npz")}


ROWS = [
    ("build-dataset {empty_dir} -o {out}.npz", "empty folder"),
    ("build-dataset {bomb_svg} -o {out}.npz", "entity bomb only"),
    ("info {empty_npz}", "empty file"),
    ("info {evil_npz}", "pickle payload"),
    ("info {text}", "not a dataset"),
    ("show {evil_npz} -o {out}.svg", "pickle payload"),
    ("show {empty_npz} -o {out}.svg", "empty file"),
    ("train {evil_npz} -o {out}", "pickle payload"),
    ("train {empty_npz} -o {out}", "empty file"),
    ("eval {empty_dir}", "not a run"),
    ("curves {empty_dir} -o {out}.png", "not a run"),
    ("generate --n 0 --out {out}.svg", "n <= 0"),
    ("generate --n 2 --temperature 0 --out {out}.svg", "temperature 0"),
    ("generate --n 2 --out {out}.jpg", "unknown format"),
    ("generate --n 2 --precision half --out {out}.svg", "unknown precision"),
    ("generate --n 2 --model {empty_npz} --out {out}.svg", "not a model"),
    ("complete {empty_svg} --out {out}.svg", "empty svg"),
    ("complete {xxe_svg} --out {out}.svg", "external entity"),
    ("complete {invisible_svg} --out {out}.svg", "nothing drawn"),
    ("interpolate {bomb_svg} {xxe_svg} --out {out}.svg", "hostile pair"),
    ("analogy {empty_svg} {bomb_svg} {xxe_svg} --out {out}.svg", "hostile triple"),
    ("reconstruct {evil_npz}:train:0 --out {out}.svg", "pickle payload"),
    ("plot {empty_svg} -o {out}.gcode", "empty svg"),
    ("plot {evil_npz} -o {out}.gcode", "pickle payload"),
    ("plot {text} -o {out}.gcode", "not a drawing"),
    # issue 10: outputs
    ("generate --seed 1180591620717411303424 --n 2 --out {out}.svg", "seed 2**70"),
    ("generate --n 2 --size 100000 --out {out}.png", "png wider than cairo allows"),
    ("generate --n 2 --stroke-width nan --out {out}.svg", "stroke width nan"),
    ("generate --n 2 --dpi 0 --out {out}.png", "dpi 0"),
    ("generate --n 2 --dpi nan --out {out}.png", "dpi nan"),
    ("generate --n 10000000 --out {out}.svg", "n ten million"),
    ("interpolate {outputs_a_svg} {outputs_b_svg} --steps 100000 --out {out}.svg", "steps 100000"),
    ("show {outputs_npz} --seed 1180591620717411303424 -o {out}.svg", "seed 2**70"),
    ("show {outputs_npz} --n 10000000 -o {out}.svg", "n ten million"),
]


@pytest.mark.parametrize("template, case", ROWS, ids=[f"{r[0].split()[0]}: {r[1]}" for r in ROWS])
def test_bad_input_gives_one_error_line_and_nonzero_exit(template, case, inputs, tmp_path):
    args = template.format(out=tmp_path / "out", **inputs).split()
    result = CliRunner().invoke(cli, args)
    output = result.output.strip()
    assert result.exit_code not in (0, 3), output  # 3 = internal error (a bug of ours)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1, output
    assert not Path("/tmp/sketchtool-pwned").exists()
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), "no output on failure"
