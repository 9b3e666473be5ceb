"""`build-dataset`, `info`, `show` from the command line: real files in, readable output or a one-line error out."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.formats.npz import load_dataset, save_dataset
from sketchtool.dataset import StrokeDataset

SVG_FIXTURES = Path(__file__).parent / "fixtures" / "svg"
NS = "{http://www.w3.org/2000/svg}"


def run(*args):
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart on its own
    return runner.invoke(cli, [str(a) for a in args])


def one_line_error(result) -> str:
    """The error is one line (after any warnings), with a non-zero exit and no traceback."""
    assert result.exit_code != 0, result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory):
    """One build over every committed SVG fixture: real KanjiVG/lucide/feather files, constructs and hostile ones."""
    out = tmp_path_factory.mktemp("build")
    result = run("build-dataset", SVG_FIXTURES, "-o", out / "all.npz", "--report", out / "report.json", "--workers", 1)
    return result, out / "all.npz", json.loads((out / "report.json").read_text())


def test_build_over_real_and_hostile_fixtures_keeps_the_good_and_names_each_bad(fixture_build):
    result, out, report = fixture_build
    assert result.exit_code == 0, result.stderr
    assert "Read " in result.stdout and "Wrote " in result.stdout
    by_name = {Path(f["path"]).relative_to(SVG_FIXTURES).as_posix(): f for f in report["files"]}
    hostile = {k: v for k, v in by_name.items() if k.startswith("hostile/")}
    assert hostile and all(f["status"] == "skipped" and f["reason"] for f in hostile.values())
    assert by_name["hostile/billion_laughs.svg"]["reason"] == "entity"
    assert by_name["hostile/gzip_bomb.svgz"]["reason"] == "gzip-bomb"
    assert all(f["status"] == "kept" for k, f in by_name.items() if k.startswith("kanjivg/"))
    ds = load_dataset(out)
    assert sum(ds.counts().values()) == report["summary"]["kept"]


def test_xxe_never_leaks_into_the_dataset(fixture_build):
    _, out, report = fixture_build
    for f in report["files"]:
        if "xxe" in f["path"]:
            assert f["status"] == "skipped" and f["reason"] == "entity"
    assert b"root:" not in out.read_bytes()


def test_existing_output_is_refused_without_force(tmp_path):
    src = SVG_FIXTURES / "kanjivg" / "04e00.svg"
    out = tmp_path / "one.npz"
    assert run("build-dataset", src, "-o", out).exit_code == 0
    before = out.read_bytes()
    assert "--force" in one_line_error(run("build-dataset", src, "-o", out))
    assert out.read_bytes() == before
    assert run("build-dataset", src, "-o", out, "--force").exit_code == 0


def test_single_file_builds_with_a_warning(tmp_path):
    result = run("build-dataset", SVG_FIXTURES / "kanjivg" / "04e00.svg", "-o", tmp_path / "one.npz")
    assert result.exit_code == 0
    assert "all went to train" in result.stderr
    assert load_dataset(tmp_path / "one.npz").counts() == {"train": 1, "valid": 0, "test": 0}


def test_nothing_usable_exits_non_zero_but_still_writes_the_report(tmp_path):
    report = tmp_path / "r.json"
    result = run("build-dataset", SVG_FIXTURES / "hostile", "-o", tmp_path / "x.npz", "--report", report)
    assert "no usable drawings" in one_line_error(result)
    assert not (tmp_path / "x.npz").exists()
    assert json.loads(report.read_text())["summary"]["kept"] == 0


def test_strict_fails_when_any_file_is_unusable(tmp_path):
    result = run("build-dataset", SVG_FIXTURES / "kanjivg", SVG_FIXTURES / "hostile" / "truncated.svg",
                 "-o", tmp_path / "x.npz", "--strict")
    assert "--strict" in one_line_error(result)
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/x.svg"], "must be an .npz"),
    (["-o", "{tmp}/x.npz", "--split", "1,2"], "--split"),
    (["-o", "{tmp}/x.npz", "--split", "99999999999999999999999,0,0"], "values must be from 0 to 1e+15"),
    (["-o", "{tmp}/x.npz", "--split", "nan,0,1"], "values must be from 0 to 1e+15"),
    (["-o", "{tmp}/x.npz", "--epsilon", "-1"], "--epsilon"),
    (["-o", "{tmp}/x.npz", "--seed", "-1"], "--seed -1: must be an integer from 0"),
    (["-o", "{tmp}/x.npz", "--epsilon", "inf"], "--epsilon inf: must be a finite number"),
    (["-o", "{tmp}/x.npz", "--size", "inf"], "--size inf: must be a finite number"),
    (["-o", "{tmp}/x.npz", "--tolerance", "0"], "--tolerance 0.0: must be a finite number > 0"),
    (["-o", "{tmp}/x.npz", "--tolerance", "nan"], "--tolerance nan: must be a finite number > 0"),
    (["-o", "{tmp}/x.npz", "--keep-units", "--size", "10"], "--keep-units keeps the SVG's own units"),
    (["-o", "{tmp}/missing/x.npz"], "folder does not exist"),
    (["-o", "{tmp}/file/x.npz"], "file: not a folder"),  # was found after reading every input
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    (tmp_path / "file").write_text("")
    args = [a.format(tmp=tmp_path) for a in args]
    assert message in one_line_error(run("build-dataset", SVG_FIXTURES / "kanjivg", *args))


def test_missing_source_is_a_one_line_error(tmp_path):
    assert "no such file or folder" in one_line_error(run("build-dataset", tmp_path / "nope", "-o", tmp_path / "x.npz"))


def test_output_never_overwrites_an_input(tmp_path):
    src = tmp_path / "a.npz"
    src.write_bytes((SVG_FIXTURES / "kanjivg" / "04e00.svg").read_bytes())
    assert "overwrite an input" in one_line_error(run("build-dataset", src, "-o", src, "--force"))


def test_report_never_overwrites_a_source_file_nor_the_dataset(tmp_path):
    """--report over a source SVG (found in a folder or by a pattern) wrote JSON over it with --force, and
    --report equal to -o lost the report under the dataset."""
    import shutil

    src = tmp_path / "svgs"
    shutil.copytree(SVG_FIXTURES / "kanjivg", src)
    first = sorted(src.glob("*.svg"))[0]
    before = first.read_bytes()
    for source in (src, src / "*.svg"):
        result = run("build-dataset", source, "-o", tmp_path / "x.npz", "--report", first, "--force")
        assert "overwrite an input" in one_line_error(result)
        assert first.read_bytes() == before and not (tmp_path / "x.npz").exists()
    assert "the same file as --out" in one_line_error(run("build-dataset", src, "-o", tmp_path / "x.npz",
                                                          "--report", tmp_path / "x.npz"))
    for _ in range(2):  # the dataset may live beside its sources and be rebuilt there
        assert run("build-dataset", src, "-o", src / "built.npz", "--force").exit_code == 0


def test_info_describes_the_sheep_set(sheep_path):
    result = run("info", sheep_path)
    assert result.exit_code == 0
    assert "train 7400, valid 300, test 300" in result.stdout
    assert "Scale factor" in result.stdout
    data = json.loads(run("info", sheep_path, "--json").stdout)
    assert data["points"]["train"]["max"] == 250 and data["scale_factor"] > 1


def test_info_shows_classes_and_build_settings(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for k, name in enumerate(["04e00", "04e8c", "04eba"]):
        (tmp_path / "ab"[k % 2] / f"{name}.svg").write_bytes((SVG_FIXTURES / "kanjivg" / f"{name}.svg").read_bytes())
    out = tmp_path / "c.npz"
    assert run("build-dataset", tmp_path, "-o", out, "--labels", "folder", "--epsilon", "1.5").exit_code == 0
    result = run("info", out)
    assert "Classes (2):" in result.stdout and "  a: train 2" in result.stdout
    assert "epsilon=1.5" in result.stdout
    shown = tmp_path / "shown.npz"  # a preview .npz keeps each drawing's class
    assert run("show", out, "-o", shown, "--n", 5).exit_code == 0
    source, picked = load_dataset(out), load_dataset(shown)
    assert picked.class_names == source.class_names == ["a", "b"]
    assert sorted(picked.labels_of("train")) == sorted(source.labels_of("train"))
    assert run("show", out, "-o", shown, "--class", "b", "--force").exit_code == 0
    assert list(load_dataset(shown).labels_of("train")) == [1]


@pytest.mark.parametrize("command", ["info", "show"])
def test_bad_datasets_are_one_line_errors(tmp_path, command):
    extra = ["-o", tmp_path / "p.svg"] if command == "show" else []
    assert "no such dataset" in one_line_error(run(command, tmp_path / "none.npz", *extra))
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    assert "unreadable dataset" in one_line_error(run(command, garbage, *extra))
    hostile = SVG_FIXTURES / "hostile" / "truncated.svg"
    assert "Error" in one_line_error(run(command, hostile, *extra))
    drawings = np.empty(2, dtype=object)
    drawings[:] = [np.array([[1, 0, 0], [2, 2, 1]]), np.array([[3, 0, 0], [2, 2, 1]])]
    np.savez(tmp_path / "twins.npz", train=drawings, class_names=np.array(["a", "a"]), train_labels=np.array([0, 1]))
    assert "class_names repeats a name" in one_line_error(run(command, tmp_path / "twins.npz", *extra))


def test_info_on_drawings_without_points(tmp_path):
    """The scale factor of drawings that have no points failed as an internal error."""
    np.savez(tmp_path / "empty.npz", train=np.zeros((3, 0, 3)))
    result = run("info", tmp_path / "empty.npz")
    assert result.exit_code == 0 and "train 3" in result.stdout and "Scale factor" not in result.stdout


def test_info_gives_the_scale_factor_of_tiny_float_drawings_in_significant_digits(tmp_path):
    """round(x, 4) showed "Scale factor 0.0" for drawings in units of 1e-5, a factor no model could divide by."""
    rng = np.random.default_rng(0)
    drawing = np.concatenate([rng.normal(0, 3e-5, (20, 2)), np.zeros((20, 1))], axis=1)
    np.savez(tmp_path / "tiny.npz", train=np.array([drawing, drawing], dtype=np.float32))
    result = run("info", tmp_path / "tiny.npz", "--json")
    assert result.exit_code == 0, result.output
    assert 1e-5 < json.loads(result.stdout)["scale_factor"] < 1e-4


def test_show_draws_a_grid_of_n_drawings_reproducibly(sheep_path, tmp_path):
    out = tmp_path / "p.svg"
    result = run("show", sheep_path, "-o", out, "--n", 12, "--split", "valid", "--cols", 4, "--seed", 3)
    assert result.exit_code == 0 and "12 of 300 valid" in result.stdout
    root = ElementTree.parse(out).getroot()
    assert len(root.findall(f"{NS}g")) == 12 and root.get("viewBox") == "0 0 512 384"
    first = out.read_bytes()
    again = ["show", sheep_path, "-o", out, "--n", 12, "--split", "valid", "--cols", 4, "--force"]
    assert run(*again, "--seed", 3).exit_code == 0
    assert out.read_bytes() == first
    assert run(*again, "--seed", 4).exit_code == 0
    assert out.read_bytes() != first


def test_show_keeps_an_existing_file_without_force_and_takes_the_picture_options(sheep_path, tmp_path):
    """`show` wrote over any existing file, a user's drawing included, where every other command asks for --force;
    and it lacked generate's --size, --dpi and --stroke-width."""
    mine = tmp_path / "mine.svg"
    mine.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert "already exists; pass --force" in one_line_error(run("show", sheep_path, "-o", mine, "--n", 4))
    assert mine.read_text() == "<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert run("show", sheep_path, "-o", mine, "--n", 4, "--stroke-width", 3.5, "--force").exit_code == 0
    assert 'stroke-width="3.5"' in mine.read_text()
    png = tmp_path / "p.png"
    assert run("show", sheep_path, "-o", png, "--n", 4, "--size", 300).exit_code == 0
    assert png.read_bytes()[16:24] == (300).to_bytes(4, "big") + (300).to_bytes(4, "big")  # IHDR width, height
    assert run("show", sheep_path, "-o", png, "--n", 4, "--dpi", 48, "--force").exit_code == 0
    assert int.from_bytes(png.read_bytes()[16:20], "big") == 128  # the 256 px grid at half of 96 dpi


def test_show_writes_png(sheep_path, tmp_path):
    out = tmp_path / "p.png"
    assert run("show", sheep_path, "-o", out, "--n", 4).exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_refuses_empty_splits_unknown_classes_and_formats(tmp_path):
    path = tmp_path / "tiny.npz"
    save_dataset(path, StrokeDataset(splits={"train": [np.array([[1, 2, 1]], dtype=np.int16)]}))
    assert "no drawings in split 'test'; splits: train 1, valid 0, test 0" in one_line_error(
        run("show", path, "-o", tmp_path / "p.svg", "--split", "test"))  # counts of the splits show did not read too
    assert "--class 'cat'" in one_line_error(run("show", path, "-o", tmp_path / "p.svg", "--class", "cat"))
    assert "unknown output format" in one_line_error(run("show", path, "-o", tmp_path / "p.jpg"))
    assert "overwrite an input" in one_line_error(run("show", path, "-o", path))


def test_show_help_error_and_writers_list_the_same_formats(tmp_path):
    path = tmp_path / "tiny.npz"
    save_dataset(path, StrokeDataset(splits={"train": [np.array([[5, 2, 0], [3, 4, 1]], dtype=np.int16)]}))
    help_text = " ".join(run("show", "--help").stdout.split())
    listed_in_help = re.findall(r"\.[a-z]+\b", help_text.split("Preview file;")[1].split(")")[0])
    error = one_line_error(run("show", path, "-o", tmp_path / "p.jpg"))
    listed_in_error = re.findall(r"\.[a-z]+\b", error.split("use one of")[1])
    assert listed_in_help == listed_in_error and {".svg", ".png", ".npz", ".gcode", ".hpgl"} <= set(listed_in_help)
    for suffix in listed_in_help:  # and each one is really written
        result = run("show", path, "-o", tmp_path / f"p{suffix}")
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / f"p{suffix}").stat().st_size > 0


def test_build_dataset_refuses_a_non_npz_output_before_reading(tmp_path):
    error = one_line_error(run("build-dataset", SVG_FIXTURES / "kanjivg", "-o", tmp_path / "x.svg"))
    assert "unknown output format '.svg'; a dataset must be an .npz" in error
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("drawing", [
    np.array([[1e308, 1e308, 0.0], [1e308, -1e308, 1.0]]),
    np.array([[-2**63, 0, 0], [5, 100, 1]], dtype=np.int64),  # abs() of it in int64 is negative: it got through
])
def test_info_on_offsets_that_overflow_is_one_line_without_warnings(tmp_path, drawing):
    path = tmp_path / "huge.npz"
    drawings = np.empty(1, dtype=object)
    drawings[0] = drawing
    np.savez(path, train=drawings)
    result = run("info", path)
    assert "holds offsets beyond 1e+09" in one_line_error(result)
    assert "Warning" not in result.stderr and result.exit_code == 1


def test_offsets_beyond_int16_are_refused_not_wrapped_into_an_npz(tmp_path):
    path, out = tmp_path / "wide.npz", tmp_path / "out.npz"
    drawings = np.empty(1, dtype=object)
    drawings[0] = np.array([[40000, 0, 0], [-40000, 100, 1]], dtype=np.int32)  # written as -25536 and 25536
    np.savez(path, train=drawings)
    out.write_bytes(b"earlier")
    assert "beyond ±32767" in one_line_error(run("show", path, "-o", out, "--force"))
    assert out.read_bytes() == b"earlier"
    assert run("show", path, "-o", tmp_path / "out.svg").exit_code == 0  # an SVG holds them


def test_float16_offsets_and_nan_settings_read_quietly(tmp_path):
    import json

    path = tmp_path / "half.npz"
    drawings = np.empty(1, dtype=object)
    drawings[0] = np.array([[3, 0, 0], [5, 100, 1]], dtype=np.float16)  # 1e9 overflowed float16 with a warning
    np.savez(path, train=drawings, build_settings=np.array('{"epsilon": NaN}'))
    result = run("info", path, "--json")
    assert result.exit_code == 0 and "Warning" not in result.stderr
    assert json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))


@pytest.mark.parametrize("ref, message", [
    ("{p}:tset:1", "unknown split 'tset'; a dataset's splits are train, valid, test"),
    ("{p}:Train", "unknown split 'Train'"),
    ("{p}:train:x", "drawing index 'x' is not a whole number from 0"),
    ("{p}:train:-1", "drawing index '-1' is not a whole number from 0"),  # said "is not a number"
])
def test_dataset_references_name_the_splits(tmp_path, ref, message):
    from sketchtool.errors import SketchtoolError
    from sketchtool.formats import read_drawings

    path = tmp_path / "data.npz"
    save_dataset(path, StrokeDataset(splits={"train": [np.array([[1, 2, 1]], dtype=np.int16)]}))
    with pytest.raises(SketchtoolError, match=re.escape(message)):
        read_drawings(ref.format(p=path))
    assert len(read_drawings(f"{path}:train:0")) == 1
    error = one_line_error(run("plot", ref.format(p=path), "-o", tmp_path / "o.svg"))  # the shared parser
    assert message in error and "cannot read drawings" not in error


def test_build_summary_counts_files_with_warnings_and_the_report_names_them(tmp_path):
    out, report = tmp_path / "d.npz", tmp_path / "r.json"
    result = run("build-dataset", SVG_FIXTURES / "constructs", "-o", out, "--report", report)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^Read \d+ file\(s\): kept \d+, skipped \d+.*; 1 with warnings \(see --report\)$", result.stdout,
                     re.MULTILINE), result.stdout
    files = {Path(f["path"]).name: f for f in json.loads(report.read_text())["files"]}
    assert files["use_outside.svg"]["status"] == "kept" and len(files["use_outside.svg"]["warnings"]) == 5


def test_a_pipe_among_the_svgs_is_skipped_not_waited_on(tmp_path):
    import os
    import shutil

    folder = tmp_path / "svgs"
    shutil.copytree(SVG_FIXTURES / "feather", folder)
    os.mkfifo(folder / "pipe.svg")  # opening it waited for a writer, for ever
    result = run("build-dataset", folder, "-o", tmp_path / "x.npz", "--report", tmp_path / "r.json", "--workers", 1)
    assert result.exit_code == 0, result.stderr
    [pipe] = [f for f in json.loads((tmp_path / "r.json").read_text())["files"] if f["path"].endswith("pipe.svg")]
    assert pipe["status"] == "skipped" and pipe["reason"] == "unreadable"
