"""docs/python.md runs as it stands, and the package's public names are the library functions the CLI calls,
imported only when used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sketchtool as st
from sketchtool.formats.npz import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def _doc_code(name: str = "docs/python.md") -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", (ROOT / name).read_text(), re.S))


def test_the_readme_s_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_doc_code("README.md"), "README.md", "exec"), namespace)
    assert len(namespace["sheep"]) == 8 and len(namespace["strokes"]) >= 1
    assert (tmp_path / "sheep.svg").read_text().count("<path") >= 8


@pytest.mark.slow
def test_the_python_guide_runs_top_to_bottom_and_makes_what_it_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_doc_code(), "docs/python.md", "exec"), namespace)

    sheep = namespace["sheep"]
    assert len(sheep) == 8 and all(d.ndim == 2 and d.shape[1] == 3 for d in sheep)
    points = [np.cumsum(d[:, :2], axis=0) for d in (namespace["again"][3], sheep[3])]
    assert len(namespace["again"]) == 8 and np.abs(points[0] - points[1]).max() <= 0.5 + 1e-9  # rounded points
    assert len(st.read_drawings("sheep.svg")) == 1  # a page is one drawing when read back
    assert (tmp_path / "sheep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(line.startswith("G1") for line in (tmp_path / "sheep.gcode").read_text().splitlines()) > 20
    endings = namespace["endings"]
    assert len(endings) == 3 and all(np.array_equal(e[:len(namespace["start"])], namespace["start"]) for e in endings)
    assert len(namespace["rows"]) == 1 and len(namespace["rows"][0]) == 5

    built = load_dataset("my.npz")
    assert [len(built.splits[k]) for k in ("train", "valid", "test")] == [30, 5, 5]
    assert namespace["result"].step == 30 and (tmp_path / "runs" / "mine" / "latest.pt").is_file()
    assert (tmp_path / "mine.svg").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "40 drawings kept; 0 files could not be used" in printed
    assert "no-such-run: no such model file or run directory" in printed


def test_the_public_names_resolve_to_the_library_functions_without_importing_torch_first():
    code = ("import sys, sketchtool as st\n"
            "print('torch' in sys.modules)\n"
            "print(st.load_model.__module__, st.generate.__module__, st.write_drawings.__module__)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["False", "sketchtool.checkpoint sketchtool.sampling sketchtool.formats", "True"]
    for name in st.__all__:
        assert getattr(st, name) is not None and name in dir(st)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        st.nonsense  # noqa: B018


def test_an_embedded_name_loads_that_model_unless_a_run_of_that_name_is_here(tmp_path, monkeypatch):
    from sketchtool.pretrained import EMBEDDED

    model, info = st.load_model("sheep")  # was "sheep: no such model file or run directory"
    assert Path(info.path) == EMBEDDED["sheep"].path and info.model == "sketch-rnn"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sheep").mkdir()  # a folder of a user's sheep SVGs does not hide the embedded model
    assert Path(st.load_model("sheep")[1].path) == EMBEDDED["sheep"].path
    (tmp_path / "kanji").mkdir()
    (tmp_path / "kanji" / "latest.pt").write_bytes(EMBEDDED["sheep"].path.read_bytes())  # a run named like one
    assert Path(st.load_model("kanji")[1].path) == Path("kanji") / "latest.pt"
