"""The whole training step captured once in a CUDA graph and replayed (PyTorch's "whole-network capture").

Why: a Sketch-RNN step at magenta's reference size is about 36,000 small kernels (a 250-step unroll, forward and
backward), so on a GPU its time is the host launching them: 2.6 steps/s on an H200 whatever the batch
(docs/BENCHMARKS.md, "GPU"). A replayed graph is one launch.

What capture asks of a step, and where it is met: shapes that do not depend on the batch's values (batches are
padded to max_seq_len; the model's `fixed_shapes` unrolls its encoder over every step with a mask); no device
value read on the host inside the step (the loss is checked after the replay instead of before the update, so a
diverged step stops the run as before, its weights unsaved); the schedules (`log_scalars`: learning rate, KL
weight) in device tensors filled before each replay; Adam's `capturable` form, whose step counts live on the
device; autocast without its weight-cast cache. Each replay draws fresh dropout and latent noise: PyTorch
registers the default CUDA generator with the graph. Three eager steps warm up before the capture, as the
PyTorch documentation asks (they are training steps like any other).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sketchtool.device import autocast
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import TrainingDiverged

__all__ = ["CapturedStep", "check_capturable", "portable_optimizer_state"]

WARMUP_STEPS = 3


def check_capturable(model, device: torch.device, world_size: int) -> None:
    """A clear error where a captured step cannot run."""
    if device.type != "cuda":
        raise SketchtoolError("--cuda-graph needs a CUDA device (--device cuda)")
    if world_size > 1:
        raise SketchtoolError("--cuda-graph runs in one process; drop torchrun or --cuda-graph")
    if not model.cuda_graph_capable:
        raise SketchtoolError(f"--cuda-graph: {model.name}'s training step cannot be captured; train without it")


class CapturedStep:
    """`step(batch, n)` trains one step: eagerly for the first WARMUP_STEPS, then by replaying the graph captured
    on the next one. Every batch must have the first one's shapes."""

    def __init__(self, model, optimizer: torch.optim.Optimizer, precision: str):
        self.model, self.optimizer, self.precision = model, optimizer, precision
        device = next(model.parameters()).device
        self.lr = torch.zeros((), device=device)
        self.schedule: dict[str, Tensor] = {}
        self.inputs: dict[str, Tensor] = {}
        self.terms: dict[str, Tensor] = {}
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_steps = 0
        model.fixed_shapes = True
        for group in optimizer.param_groups:
            group["capturable"] = True
            group["lr"] = self.lr
        for state in optimizer.state.values():  # a resumed run's step counts come from the checkpoint, on the host
            if "step" in state:
                state["step"] = state["step"].to(device=device, dtype=torch.float32)

    def _fill(self, batch, step: int) -> None:
        """Copy the batch and this step's schedules into the tensors the graph reads."""
        scalars = self.model.log_scalars(step)
        self.lr.fill_(scalars.pop("lr"))
        for name, value in scalars.items():
            self.schedule.setdefault(name, torch.zeros((), device=self.lr.device)).fill_(value)
        for name, value in vars(batch).items():
            if isinstance(value, Tensor):
                if name not in self.inputs:
                    self.inputs[name] = torch.empty_like(value)
                elif value.shape != self.inputs[name].shape:
                    raise SketchtoolError(f"--cuda-graph: batch {name} has shape {tuple(value.shape)}, the graph "
                                          f"was captured for {tuple(self.inputs[name].shape)}")
                self.inputs[name].copy_(value, non_blocking=True)

    def _static_batch(self, batch):
        fields = {name: self.inputs.get(name, value) for name, value in vars(batch).items()}
        return type(batch)(**fields)

    def _run(self, batch) -> dict[str, Tensor]:
        """The step itself, as it is captured: nothing here may read a device value on the host."""
        with autocast(self.lr.device, self.precision, cache_enabled=False):
            terms = self.model.loss(batch, **self.schedule)
        terms["loss"].backward()
        self.model.clip_gradients()
        self.optimizer.step()
        return terms

    def step(self, batch, step: int) -> dict[str, Tensor]:
        self._fill(batch, step)
        static = self._static_batch(batch)
        if self.eager_steps < WARMUP_STEPS:  # on a side stream, as capture wants its allocations made there
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.optimizer.zero_grad(set_to_none=True)
                terms = self._run(static)
            torch.cuda.current_stream().wait_stream(side)
            self.eager_steps += 1
        else:
            if self.graph is None:
                self.optimizer.zero_grad(set_to_none=True)
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self.terms = self._run(static)
            self.graph.replay()
            terms = self.terms
        if not torch.isfinite(terms["loss"]):
            raise TrainingDiverged(step + 1, float(terms["loss"]))
        return terms


def portable_optimizer_state(state: dict) -> dict:
    """An optimiser's `state_dict()` as an eager run saves it (a float learning rate, `capturable` off, step
    counts on the host), so the checkpoint resumes anywhere, with or without --cuda-graph. `state_dict()` shares
    its per-parameter entries with the live optimiser, whose device step counts the graph updates, so those entries
    are copied, not changed."""
    entries = {k: {**entry, "step": entry["step"].cpu()} if isinstance(entry.get("step"), Tensor) else entry
               for k, entry in state["state"].items()}
    groups = []
    for group in state["param_groups"]:
        group = dict(group)
        if isinstance(group.get("lr"), Tensor):
            group["lr"] = float(group["lr"])
        if "capturable" in group:
            group["capturable"] = False
        groups.append(group)
    return {**state, "state": entries, "param_groups": groups}
