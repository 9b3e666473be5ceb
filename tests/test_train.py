"""The trainer on a small real subset of aaron_sheep: resume equals an uninterrupted run, validation loss falls,
bad input fails clearly, bf16 stays close to fp32, and DDP runs with 2 CPU processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from sketchtool.batching import BatchSource, prepare_drawings
from sketchtool.checkpoint import load_model, read_checkpoint
from sketchtool.dataset import StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.formats.npz import load_dataset, save_dataset
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams
from sketchtool.strokes import scale_factor
from sketchtool.train import (
    TrainOptions,
    evaluate,
    read_metrics,
    resolve_hparams,
    train,
)

TINY = "enc_rnn_size=16,dec_rnn_size=32,z_size=8,num_mixture=5,batch_size=16"


@pytest.fixture(scope="module")
def subset(sheep_path, tmp_path_factory):
    """Real sheep drawings of at most 60 points: 400 train, 48 valid, the 27 such test drawings."""
    full = load_dataset(sheep_path)
    short = {k: [d for d in full.splits[k] if len(d) <= 60] for k in full.splits}
    ds = StrokeDataset(splits={"train": short["train"][:400], "valid": short["valid"][:48], "test": short["test"][:48]},
                       settings={"epsilon": 1.5, "size": 256.0})
    path = tmp_path_factory.mktemp("data") / "sheep_small.npz"
    save_dataset(path, ds)
    return path


def _hps(extra=""):
    from sketchtool.models.base import parse_hparams

    return resolve_hparams("sketch-rnn", overrides=parse_hparams(TINY + ("," + extra if extra else "")))


def _options(steps, **kw):
    return TrainOptions(steps=steps, save_every=kw.pop("save_every", 3), precision="fp32", threads=1, **kw)


def test_resume_equals_an_uninterrupted_run(subset, tmp_path):
    train(subset, tmp_path / "a", hps=_hps(), options=_options(6))
    train(subset, tmp_path / "b", hps=_hps(), options=_options(3))
    result = train(subset, tmp_path / "b", resume=True, options=_options(6))
    assert result.step == 6
    a, b = read_checkpoint(tmp_path / "a" / "latest.pt"), read_checkpoint(tmp_path / "b" / "latest.pt")
    assert a["step"] == b["step"] == 6
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    for k, state in a["training"]["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], b["training"]["optimizer"]["state"][k]["exp_avg"])
    train_a = [r for r in read_metrics(tmp_path / "a") if r["split"] == "valid"]
    train_b = [r for r in read_metrics(tmp_path / "b") if r["split"] == "valid"]
    assert [r["loss"] for r in train_a] == [r["loss"] for r in train_b]


@pytest.mark.slow
def test_validation_loss_falls_over_a_few_hundred_steps(subset, tmp_path):
    result = train(subset, tmp_path / "run", hps=_hps(), options=_options(240, save_every=40))
    valid = [r for r in read_metrics(tmp_path / "run") if r["split"] == "valid"]
    assert len(valid) == 6
    assert valid[-1]["L_R"] < valid[0]["L_R"] - 0.1
    assert result.best_valid == min(r["loss"] for r in valid)
    model, info = load_model(tmp_path / "run")
    assert info.step == min(r["step"] for r in valid if r["loss"] == result.best_valid)
    test = evaluate(tmp_path / "run", split="test")
    assert test["drawings"] == len(load_dataset(subset).splits["test"]) and np.isfinite(test["L_R"])
    drawings = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert sum(len(d) for d in drawings) > 0


def test_metrics_go_to_tensorboard_when_installed(subset, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard logging is optional; not installed here")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(subset, tmp_path / "run", hps=_hps(), options=_options(10, log_every=5, save_every=5))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("valid/L_R")] == [5, 10]
    assert [e.step for e in events.Scalars("train/loss")] == [5, 10]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_or_kill_saves_the_current_step_and_resume_continues(signum, subset, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "sketchtool", "train", str(subset), "-o", str(run), "--hparams", TINY,
           "--steps", "100000", "--save-every", "100000", "--precision", "fp32", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Interrupted." in err
    step = read_checkpoint(run / "latest.pt")["step"]
    assert step >= 10
    result = train(subset, run, resume=True, options=_options(step + 2))
    assert result.step == step + 2


def test_several_classes_train_a_class_conditional_decoder(subset, tmp_path):
    full = load_dataset(subset)
    splits = {k: full.splits[k][:32] for k in full.splits}
    labels = {k: np.arange(len(v)) % 2 for k, v in splits.items()}
    path = tmp_path / "two.npz"
    save_dataset(path, StrokeDataset(splits=splits, class_names=["left", "right"], labels=labels))
    train(path, tmp_path / "run", hps=_hps(), options=_options(2, save_every=2))
    model, info = load_model(tmp_path / "run")
    assert info.class_names == ["left", "right"] and model.use_classes
    assert len(model.sample(2, labels=torch.tensor([0, 1]), max_len=5)) == 2


def test_run_directory_is_never_overwritten(subset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(SketchtoolError, match="already exists"):
        train(subset, run, hps=_hps(), options=_options(1))
    with pytest.raises(SketchtoolError, match="nothing to resume"):
        train(subset, run, resume=True, options=_options(1))
    assert (run / "notes.txt").read_text() == "mine"


def test_bad_inputs_fail_clearly(subset, tmp_path):
    with pytest.raises(SketchtoolError, match="no training drawings"):
        train(subset, tmp_path / "r1", hps=_hps("max_seq_len=5"), options=_options(1))
    with pytest.raises(SketchtoolError, match="no such dataset"):
        train(tmp_path / "missing.npz", tmp_path / "r2", hps=_hps(), options=_options(1))
    if not torch.cuda.is_available():
        with pytest.raises(SketchtoolError, match="no CUDA GPU"):
            train(subset, tmp_path / "r3", hps=_hps(), options=TrainOptions(steps=1, device="cuda"))
    with pytest.raises(SketchtoolError, match="unknown preset"):
        resolve_hparams("sketch-rnn", preset="huge")


def test_divergence_stops_with_a_clear_message_and_keeps_the_checkpoint(subset, tmp_path):
    hps = _hps("learning_rate=1e30,min_learning_rate=1e30")
    with pytest.raises(SketchtoolError, match="diverged"):
        train(subset, tmp_path / "run", hps=hps, options=_options(10, save_every=1))
    payload = read_checkpoint(tmp_path / "run" / "latest.pt")
    assert 1 <= payload["step"] < 10


def test_bf16_loss_is_within_tolerance_of_fp32(sheep_path):
    """bf16 matmuls (autocast) against fp32 on a real batch at reference widths."""
    ds = load_dataset(sheep_path)
    drawings, _ = prepare_drawings(ds.splits["valid"][:20], 250)
    source = BatchSource(drawings, np.zeros(len(drawings)), scale_factor=scale_factor(drawings), max_seq_len=250,
                         batch_size=20)
    batch = next(source.batches())
    torch.manual_seed(0)
    model = SketchRNN(SketchRNNHParams(dec_rnn_size=512, enc_rnn_size=256)).eval()
    with torch.no_grad():
        fp32 = model.loss(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model.loss(batch)
    for term in ("L_R", "loss"):
        assert abs(float(bf16[term]) - float(fp32[term])) < 0.01 * abs(float(fp32[term])), term


@pytest.mark.slow
def test_distributed_data_parallel_with_two_cpu_processes(subset, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           "-m", "sketchtool", "train", str(subset), "-o", str(tmp_path / "ddp"), "--hparams", TINY,
           "--steps", "4", "--save-every", "2", "--precision", "fp32", "--threads", "1"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_checkpoint(tmp_path / "ddp" / "latest.pt")["step"] == 4
    records = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "valid"] == [2, 4]  # written once, by rank 0


def test_checkpoint_records_how_the_dataset_was_built(subset, tmp_path):
    """`complete` reads SVG inputs with the dataset's own epsilon and size, so the checkpoint must carry them."""
    train(subset, tmp_path / "run", hps=_hps(), options=_options(2))
    settings = read_checkpoint(tmp_path / "run" / "latest.pt")["dataset"]["settings"]
    assert settings == {"epsilon": 1.5, "size": 256.0}
