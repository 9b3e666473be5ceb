"""The one dispatch point: extensions pick writers/readers; outputs parse back."""

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.formats import OutputOptions, parse_reference, read_drawings, write_drawings
from sketchtool.formats.npz import load_dataset
from sketchtool.strokes import polylines_to_stroke3, stroke3_to_polylines

SQUARE = polylines_to_stroke3([np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]), np.array([[5, 5]])])
ZIGZAG = polylines_to_stroke3([np.array([[0, 0], [4, 8], [8, 0], [12, 8]])])


def test_unknown_extension_lists_supported_formats(tmp_path: Path):
    with pytest.raises(SketchtoolError, match=r"\.svg.*") as e:
        write_drawings(tmp_path / "out.jpg", [SQUARE])
    assert ".png" in str(e.value) and ".npz" in str(e.value)


def test_svg_grid_has_one_group_per_drawing_and_one_path_per_stroke(tmp_path: Path):
    out = tmp_path / "grid.svg"
    write_drawings(out, [SQUARE, ZIGZAG, SQUARE], OutputOptions(cols=2))
    root = ElementTree.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    assert [len(g.findall(f"{ns}path")) for g in groups] == [2, 1, 2]
    assert root.get("viewBox") == "0 0 256 256"  # 2 columns x 2 rows of 128-unit cells


def test_given_points_are_drawn_in_a_separate_layer(tmp_path: Path):
    out = tmp_path / "complete.svg"
    write_drawings(out, [ZIGZAG], OutputOptions(given_points=[2]))
    classes = [p.get("class") for p in ElementTree.parse(out).getroot().iter("{http://www.w3.org/2000/svg}path")]
    assert classes == ["given", "generated"]


def test_png_is_a_white_image_of_the_requested_width(tmp_path: Path):
    out = tmp_path / "grid.png"
    write_drawings(out, [SQUARE, ZIGZAG], OutputOptions(png_width=200))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == 200


def test_npz_output_round_trips_through_the_safe_loader(tmp_path: Path):
    out = tmp_path / "drawings.npz"
    write_drawings(out, [SQUARE, ZIGZAG])
    ds = load_dataset(out)
    assert [d.tolist() for d in ds.splits["train"]] == [SQUARE.astype(np.int16).tolist(), ZIGZAG.astype(np.int16).tolist()]
    assert read_drawings(f"{out}:train:1")[0].tolist() == ZIGZAG.astype(np.int16).tolist()


def test_references_parse_and_out_of_range_is_a_clear_error(tmp_path: Path):
    assert parse_reference("a/b.npz:valid:3") == (Path("a/b.npz"), "valid", 3)
    assert parse_reference("x.svg") == (Path("x.svg"), None, None)
    out = tmp_path / "d.npz"
    write_drawings(out, [SQUARE])
    with pytest.raises(SketchtoolError, match="out of range"):
        read_drawings(f"{out}:train:5")
    with pytest.raises(SketchtoolError, match="no such file"):
        read_drawings(tmp_path / "missing.svg")
    with pytest.raises(SketchtoolError, match="cannot read drawings"):
        read_drawings(tmp_path / "notes.txt")
    with pytest.raises(SketchtoolError, match=r"train:0:1: not a dataset reference; give DATASET.npz:split or"):
        read_drawings(f"{out}:train:0:1")  # was "cannot read drawings from .npz:train:0:1"


@pytest.mark.parametrize("suffix", [".svg", ".png", ".gcode", ".hpgl", ".npz"])
def test_writing_what_is_not_drawings_is_refused_and_writes_nothing(tmp_path: Path, suffix: str):
    """NaN reached an SVG as "Mnan,64.00", a G-code file as a bare ValueError; one array given for a list of
    drawings was drawn as one dot per row."""
    out = tmp_path / f"x{suffix}"
    with pytest.raises(SketchtoolError, match="drawing 1 holds NaN or infinite points; nothing written"):
        write_drawings(out, [SQUARE, np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 1.0]])])
    with pytest.raises(SketchtoolError, match=r"takes a list of drawings, not one \(6, 3\) array; give \[drawing\]"):
        write_drawings(out, SQUARE)
    rows = [[SQUARE, SQUARE[:3]], [SQUARE, SQUARE]]  # interpolate's rows: the first was an internal ValueError
    for given, shape in [(rows, ""), ([SQUARE, SQUARE[:, :2]], r" of shape \(6, 2\)")]:
        with pytest.raises(SketchtoolError, match=rf"drawing [01] is not an \(n, 3\) stroke-3 array{shape}; give one "
                                                  r"flat list of drawings \(rows of them, as interpolate returns"):
            write_drawings(out, given)
    assert not out.exists()


def test_the_data_model_refuses_arrays_of_the_wrong_shape():
    with pytest.raises(SketchtoolError, match=r"a polyline must be an \(n, 2\) array; got shape \(4, 3\)"):
        polylines_to_stroke3([np.zeros((4, 3))])  # a stroke-3 drawing given as polylines made 6 points up
    with pytest.raises(SketchtoolError, match=r"a stroke-3 drawing must be an \(n, 3\) array; got shape \(3, 2\)"):
        stroke3_to_polylines(np.array([[0, 0], [10, 0], [10, 10]]))  # was two dots
    assert stroke3_to_polylines(np.array([5.0, 5.0, 1.0]))[0].tolist() == [[5.0, 5.0]]  # one flat row is one point


def test_a_dataset_reference_reads_only_its_split(tmp_path: Path):
    """DATASET.npz:test:3 unpickles the test split only, not a QuickDraw file's 70,000 train drawings."""
    import zipfile

    path = tmp_path / "big.npz"
    test = np.empty(2, dtype=object)
    test[0], test[1] = ZIGZAG.astype(np.int16), ZIGZAG[:2].astype(np.int16)
    np.savez(path, test=test)
    with zipfile.ZipFile(path, "a") as zf:  # a train member that cannot be read at all
        zf.writestr("train.npy", b"\x93NUMPY garbage")
    assert read_drawings(f"{path}:test:1")[0].tolist() == ZIGZAG[:2].tolist()
    assert len(read_drawings(f"{path}:test")) == 2
    with pytest.raises(SketchtoolError, match="unreadable dataset"):
        read_drawings(path)  # the whole file: every split
