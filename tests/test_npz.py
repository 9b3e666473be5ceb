"""Dataset files: sketch-rnn compatible on disk, and loading one never executes code from it."""

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sketchtool.dataset import StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.formats.npz import load_dataset, save_dataset, save_drawings

A = np.array([[5, 3, 0], [10, -2, 1], [0, 7, 1]], dtype=np.int16)
B = np.array([[1, 1, 1]], dtype=np.int16)


class _RunsCommand:
    """Unpickling this calls os.system: what a hostile dataset would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _npz_with_members(path: Path, members: dict[str, np.ndarray]) -> None:
    """Write an .npz the way numpy does, bypassing our writer (to plant arbitrary members)."""
    np.savez(path, **members)


def test_hostile_pickle_is_refused_and_never_runs(tmp_path: Path):
    marker = tmp_path / "pwned"
    payload = np.empty(2, dtype=object)
    payload[0], payload[1] = A, _RunsCommand(marker)
    path = tmp_path / "evil.npz"
    _npz_with_members(path, {"train": payload, "valid": np.empty(0, dtype=object), "test": np.empty(0, dtype=object)})
    with pytest.raises(SketchtoolError, match=r"evil\.npz: unsafe or corrupt dataset.*refusing to load posix\.system"):
        load_dataset(path)
    assert not marker.exists()


def test_hostile_pickle_in_an_extra_member_is_refused_too(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _RunsCommand(marker)
    ok = np.empty(1, dtype=object)
    ok[0] = A
    _npz_with_members(path, {"train": ok, "class_names": evil})
    with pytest.raises(SketchtoolError, match="unsafe"):
        load_dataset(path)
    assert not marker.exists()


def test_real_sheep_dataset_loads(sheep_path):
    ds = load_dataset(sheep_path)
    assert ds.counts() == {"train": 7400, "valid": 300, "test": 300}
    first = ds.splits["train"][0]
    assert first.ndim == 2 and first.shape[1] == 3 and first.dtype == np.int16
    assert set(np.unique(first[:, 2])) <= {0, 1}


def test_saved_files_load_with_plain_numpy_the_way_sketch_rnn_does(tmp_path: Path):
    path = tmp_path / "mine.npz"
    ds = StrokeDataset(splits={"train": [A, B], "valid": [B], "test": [A]}, class_names=["cat", "dog"],
                       labels={"train": np.array([0, 1]), "valid": np.array([1]), "test": np.array([0])},
                       settings={"epsilon": 2.0})
    save_dataset(path, ds)
    data = np.load(path, encoding="latin1", allow_pickle=True)  # sketch_rnn_train.load_dataset's call
    assert data["train"].dtype == object and len(data["train"]) == 2
    np.testing.assert_array_equal(data["train"][0], A)
    assert data["train"][1].dtype == np.int16
    back = load_dataset(path)
    assert back.class_names == ["cat", "dog"] and back.settings == {"epsilon": 2.0}
    np.testing.assert_array_equal(back.labels_of("train"), [0, 1])


def test_equal_length_drawings_stay_a_list_of_drawings(tmp_path: Path):
    path = tmp_path / "same.npz"
    save_drawings(path, [A, A + 1])
    data = np.load(path, allow_pickle=True)
    assert data["train"].shape == (2,) and data["train"][1].shape == (3, 3)


def test_float_quickdraw_style_arrays_load(tmp_path: Path):
    path = tmp_path / "quickdraw.npz"
    members = {}
    for split, drawings in {"train": [A.astype(np.float64), B.astype(np.float32)], "valid": [A * 1.5], "test": []}.items():
        arr = np.empty(len(drawings), dtype=object)
        for i, d in enumerate(drawings):
            arr[i] = d
        members[split] = arr
    _npz_with_members(path, members)
    ds = load_dataset(path)
    assert ds.splits["train"][0].dtype == np.float64
    np.testing.assert_allclose(ds.splits["valid"][0], A * 1.5)


def test_uniform_length_block_array_loads(tmp_path: Path):
    path = tmp_path / "block.npz"
    _npz_with_members(path, {"train": np.stack([A, A]), "valid": np.zeros((0, 3, 3)), "test": np.zeros((0, 3, 3))})
    assert len(load_dataset(path).splits["train"]) == 2


def test_truncated_zip_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "cut.npz"
    save_drawings(path, [A, B] * 50)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SketchtoolError, match=r"cut\.npz: unreadable dataset"):
        load_dataset(path)


def test_non_zip_and_missing_files_are_clear_errors(tmp_path: Path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(SketchtoolError, match="unreadable dataset"):
        load_dataset(text)
    with pytest.raises(SketchtoolError, match="no such dataset file"):
        load_dataset(tmp_path / "absent.npz")


def test_npz_without_splits_points_to_build_dataset(tmp_path: Path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(SketchtoolError, match="build-dataset"):
        load_dataset(path)


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.array([[np.nan, 0, 1]]), np.array([["a", "b", "c"]])])
def test_malformed_drawings_are_rejected(tmp_path: Path, bad):
    path = tmp_path / "bad.npz"
    arr = np.empty(1, dtype=object)
    arr[0] = bad
    _npz_with_members(path, {"train": arr})
    with pytest.raises(SketchtoolError, match=r"invalid dataset: train\[0\]"):
        load_dataset(path)


def test_labels_that_do_not_match_the_drawings_are_rejected(tmp_path: Path):
    path = tmp_path / "labels.npz"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = A, B
    _npz_with_members(path, {"train": arr, "train_labels": np.array([0, 5]), "class_names": np.array(["a", "b"])})
    with pytest.raises(SketchtoolError, match="labels of split 'train'"):
        load_dataset(path)


def test_member_claiming_a_huge_size_is_refused_without_unpacking(tmp_path: Path, monkeypatch):
    import sketchtool.formats.npz as npz

    path = tmp_path / "big.npz"
    save_drawings(path, [A] * 100)
    monkeypatch.setattr(npz, "MAX_MEMBER_BYTES", 64)  # the real limit is 4 GiB; same code path
    with pytest.raises(SketchtoolError, match="unpacks to"):
        load_dataset(path)


def test_pickle_protocol_globals_outside_numpy_are_refused(tmp_path: Path):
    # a raw pickle member that asks for builtins.eval: the unpickler must refuse before calling anything
    path = tmp_path / "raw.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    body = b"cbuiltins\neval\n(S'1+1'\ntR."  # protocol-0 pickle of eval("1+1")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", header.getvalue() + body)
    with pytest.raises(SketchtoolError, match="refusing to load builtins.eval"):
        load_dataset(path)
