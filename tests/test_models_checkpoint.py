"""Checkpoints: round trip, inference-only export, and refusal of anything that is not a safe checkpoint."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchtool.checkpoint import (
    export_model,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

TINY = SketchRNNHParams(enc_rnn_size=8, dec_rnn_size=16, z_size=4, num_mixture=3, max_seq_len=20)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    spec = DataSpec(class_names=["sheep"], scale_factor=12.5, max_length=20,
                    dataset={"name": "sheep", "path": "/x/sheep.npz"})
    model = SketchRNN(TINY, spec)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, step=7, metrics={"valid": {"L_R": 0.5}},
                    training={"optimizers": {}, "torch_rng": torch.get_rng_state()})
    return model.eval(), path


def _greedy(model):
    return model.sample(2, z=torch.ones(2, 4), greedy=True, max_len=15)


def test_round_trip_restores_model_and_info(saved):
    model, path = saved
    loaded, info = load_model(path)
    assert (info.model, info.step, info.scale_factor, info.class_names) == ("sketch-rnn", 7, 12.5, ["sheep"])
    assert info.hparams["dec_rnn_size"] == 16 and info.metrics["valid"]["L_R"] == 0.5
    assert not loaded.training and loaded.can("encode")
    for a, b in zip(_greedy(model), _greedy(loaded)):
        np.testing.assert_array_equal(a, b)


def test_run_directory_prefers_best(saved, tmp_path):
    _, path = saved
    run = tmp_path / "run"
    run.mkdir()
    os.replace(path, run / "latest.pt")
    assert load_model(run)[1].path.endswith("latest.pt")
    export_model(run / "latest.pt", run / "best.pt")
    assert load_model(run)[1].path.endswith("best.pt")


def test_export_is_small_inference_only_and_loads_as_float32(saved, tmp_path):
    model, path = saved
    out = tmp_path / "sheep.pt"
    export_model(path, out)
    payload = read_checkpoint(out)
    assert "training" not in payload
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values())
    assert out.stat().st_size < path.stat().st_size
    loaded, info = load_model(out)
    assert info.step == 7 and next(loaded.parameters()).dtype == torch.float32
    z = torch.ones(2, 4)
    y1 = model._decode(torch.zeros(2, 3, 5), z, model._initial_state(z, 2, z))[0]
    y2 = loaded._decode(torch.zeros(2, 3, 5), z, loaded._initial_state(z, 2, z))[0]
    torch.testing.assert_close(y1, y2, atol=1e-2, rtol=1e-2)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_checkpoint",))


@pytest.mark.parametrize("content", ["garbage", "not-a-checkpoint", "pickle-with-code", "missing"])
def test_bad_files_are_refused_with_one_clear_error(tmp_path, content, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.pt"
    if content == "garbage":
        path.write_bytes(b"\x00not a zip at all")
    elif content == "not-a-checkpoint":
        torch.save({"weights": torch.zeros(2)}, path)
    elif content == "pickle-with-code":
        torch.save({"format": "sketchtool-checkpoint", "evil": _Evil()}, path)
    with pytest.raises(SketchtoolError) as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned_by_checkpoint").exists()


@pytest.mark.parametrize("content", [b"hello\n", b'{"model": "sketch-rnn"}', b""])
def test_a_file_torch_did_not_write_is_called_not_a_checkpoint(tmp_path, content):
    """Text given as a model was reported in torch's words: "(101)", or advice on torch 2.6's weights_only."""
    path = tmp_path / "run.json"
    path.write_bytes(content)
    with pytest.raises(SketchtoolError, match=r"run\.json: not a readable sketchtool checkpoint \(not a file torch\.save wrote\)"):
        load_model(path)


def test_a_directory_without_checkpoints_is_not_a_run(tmp_path):
    with pytest.raises(SketchtoolError, match="not a training run"):
        load_model(tmp_path)


def _tampered(saved, tmp_path, change) -> Path:
    _, path = saved
    payload = read_checkpoint(path)
    change(payload)
    out = tmp_path / "tampered.pt"
    torch.save(payload, out)
    return out


def _set_weight(value):
    return lambda p: p["state_dict"].__setitem__("output.bias", value)


@pytest.mark.parametrize("change, message", [
    (_set_weight(torch.full((3 * 6 + 3,), float("nan"))), "NaN or infinite values"),
    (_set_weight(torch.full((3 * 6 + 3,), float("inf"))), "NaN or infinite values"),
    (_set_weight("0.5"), "is not a tensor"),
    (lambda p: p["spec"].__setitem__("scale_factor", 0.0), "scale factor 0.0 is not a positive number"),
    (lambda p: p["spec"].__setitem__("scale_factor", float("nan")), "scale factor nan is not a positive number"),
    (lambda p: p.pop("state_dict"), "no valid 'state_dict'"),
    (lambda p: p.pop("hparams"), "no valid 'hparams'"),
    (lambda p: p.__setitem__("version", "2"), "version '2' is not valid"),
    (lambda p: p.__setitem__("version", 99), "newer than this sketchtool"),
    (lambda p: p["state_dict"].__setitem__("output.weight", torch.zeros(2, 2)), "do not fit model"),
    (lambda p: p["hparams"].__setitem__("dec_rnn_size", 10**30), "cannot build model 'sketch-rnn'"),  # internal
    (lambda p: p["spec"].__setitem__("class_counts", [3, 1]), "its 2 class counts do not fit its 1 class names"),
    (lambda p: p["spec"].update(class_names=["a", "b"], class_counts=[0, 0]),
     "its 2 class counts do not fit its 2 class names"),
], ids=["nan-weight", "inf-weight", "string-weight", "zero-scale", "nan-scale", "no-state-dict", "no-hparams",
        "string-version", "future-version", "wrong-shape", "unbuildable-size", "counts-without-classes",
        "no-counted-drawing"])
def test_checkpoints_that_would_draw_nonsense_are_refused_at_load(saved, tmp_path, change, message):
    path = _tampered(saved, tmp_path, change)
    with pytest.raises(SketchtoolError, match=message) as err:
        load_model(path)
    assert "\n" not in str(err.value)


def test_a_format_1_checkpoint_loads_as_the_same_model(saved, tmp_path):
    """Format 1 kept the scale factor, classes and dataset at the top level (every run before format 2)."""
    model, path = saved
    payload = read_checkpoint(path)
    spec = payload.pop("spec")
    payload.update(version=1, scale_factor=spec["scale_factor"], class_names=spec["class_names"], num_classes=1,
                   dataset={**spec["dataset"], "settings": {"epsilon": 1.0}})
    old = tmp_path / "v1.pt"
    torch.save(payload, old)
    loaded, info = load_model(old)
    assert (info.scale_factor, info.class_names, info.spec.max_length) == (12.5, ["sheep"], 20)
    assert info.dataset == {"name": "sheep", "path": "/x/sheep.npz", "settings": {"epsilon": 1.0}}
    for a, b in zip(_greedy(model), _greedy(loaded)):
        np.testing.assert_array_equal(a, b)


def test_a_legacy_pickle_checkpoint_loads_without_torch_warnings(saved, tmp_path):
    _, path = saved
    legacy = tmp_path / "legacy.pt"
    torch.save(read_checkpoint(path), legacy, _use_new_zipfile_serialization=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_model(legacy)[1].step == 7


def test_a_dataset_given_as_a_model_says_so(tmp_path):
    data = tmp_path / "my.npz"
    np.savez(data, train=np.zeros((1, 2, 3), np.int16))
    with pytest.raises(SketchtoolError, match="is a dataset, not a model; train one with `sketchtool train"):
        load_model(data)


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(saved, tmp_path, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sketchtool.fileio.os.fsync", full)
    with pytest.raises(SketchtoolError, match="no space left on the device") as err:
        save_checkpoint(path, model, step=8)
    assert "\n" not in str(err.value) and path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_averaged_checkpoints_hold_the_mean_weights(saved, tmp_path):
    """Polyak averaging of snapshots: every weight is the element-wise mean, the last snapshot's step and hparams
    are kept, the optimiser state is not, and the averaged model samples like a model with those weights."""
    from sketchtool.checkpoint import average_checkpoints

    model, first = saved
    other = SketchRNN(TINY, model.spec)
    torch.manual_seed(1)
    for weight in other.parameters():
        torch.nn.init.normal_(weight)
    second = tmp_path / "second.pt"
    save_checkpoint(second, other, step=9, training={"optimizers": {}})
    info = average_checkpoints([first, second], tmp_path / "mean.pt")
    payload = read_checkpoint(tmp_path / "mean.pt")
    assert info.step == 9 and "training" not in payload and payload["metrics"]["averaged_steps"] == [7, 9]
    for key, weight in model.state_dict().items():
        torch.testing.assert_close(payload["state_dict"][key], (weight + other.state_dict()[key]) / 2)
    averaged, _ = load_model(tmp_path / "mean.pt")
    mixed = SketchRNN(TINY, model.spec).eval()
    mixed.load_state_dict({k: (w + other.state_dict()[k]) / 2 for k, w in model.state_dict().items()})
    for a, b in zip(_greedy(averaged), _greedy(mixed)):
        np.testing.assert_array_equal(a, b)


def test_averaging_refuses_snapshots_of_different_models(saved, tmp_path):
    from dataclasses import replace

    from sketchtool.checkpoint import average_checkpoints

    model, first = saved
    wider = tmp_path / "wider.pt"
    save_checkpoint(wider, SketchRNN(replace(TINY, dec_rnn_size=32), model.spec), step=9)
    with pytest.raises(SketchtoolError, match="not the same model"):
        average_checkpoints([first, wider], tmp_path / "mean.pt")
    assert not (tmp_path / "mean.pt").exists()
