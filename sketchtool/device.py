"""Device, precision, CPU threads and the process group of a distributed run, decided once for a training run.

Distributed training (torchrun) is data parallel without DistributedDataParallel: every process starts from rank 0's
weights (`broadcast_state`), averages the gradients of whatever each backward reached (`average_gradients`) and,
after each step, BatchNorm's running statistics (`average_buffers`).
DDP syncs only the parameters its wrapped forward used, so models whose training step trains parts of themselves
directly failed in its reducer (StrokeNet's renderer, whose first phase trains the position encoder alone) or
needed their own averaging (the agent's renderer tuning)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from sketchtool.errors import SketchtoolError

__all__ = [
    "DistInfo",
    "autocast",
    "average_buffers",
    "average_gradients",
    "broadcast_state",
    "configure_threads",
    "cpu_has_bf16",
    "default_threads",
    "end_distributed",
    "init_distributed",
    "normalize_precision",
    "resolve_device",
    "resolve_precision",
    "PRECISIONS",
]

# one vocabulary for every command: auto (bf16 where the hardware does it natively), fp32 (never), bf16 (always);
# the spelled-out names are accepted as the same words
PRECISIONS = ("auto", "fp32", "bf16")
_PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16"}


def default_threads() -> int:
    """One thread on small hosts: PyTorch's OpenMP workers spin-wait, so 2 threads on a shared 2-core machine
    ran 7x slower than 1 when another process held a core; half the cores (at most 8) elsewhere."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(8, cores // 2)


def configure_threads(threads: int | None) -> int:
    """Set torch's intra-op threads; OMP_WAIT_POLICY=PASSIVE (if unset) only helps when set before torch loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    n = threads or default_threads()
    cores = os.cpu_count() or 1
    if not 1 <= n <= cores:  # far more threads than cores crawls, and tens of thousands crash OpenMP
        raise SketchtoolError(f"--threads {n}: give 1 to {cores} (this machine's CPU cores)")
    torch.set_num_threads(n)
    return n


def resolve_device(name: str = "auto"):
    """'auto' picks cuda, then mps, then cpu; asking for an absent accelerator is a clear error."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SketchtoolError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SketchtoolError("--device mps: Apple Metal is not available here; use --device cpu or auto")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise SketchtoolError(f"--device {name}: use auto, cpu, cuda or mps")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when the CPU does bf16 matmuls natively (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def normalize_precision(precision: str) -> str:
    """'auto', 'fp32' or 'bf16' (also spelled 'float32', 'bfloat16'); a clear error otherwise."""
    name = _PRECISION_ALIASES.get(str(precision).lower(), str(precision).lower())
    if name not in PRECISIONS:
        raise SketchtoolError(f"--precision {precision}: use {', '.join(PRECISIONS)}")
    return name


def resolve_precision(precision: str, device) -> str:
    """'auto' -> 'bf16' on CUDA with bf16 support or a CPU with native bf16, else 'fp32'."""
    import torch

    precision = normalize_precision(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def autocast(device, precision: str, *, cache_enabled: bool = True):
    """Matmuls in bf16 under `precision == 'bf16'`; the models keep cell state and losses in fp32. A CUDA graph
    capture needs `cache_enabled=False` (autocast's cache of cast weights would outlive the capture)."""
    import torch

    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache_enabled)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this run joined the process group, so it leaves it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device) -> DistInfo:
    """Under torchrun (WORLD_SIZE > 1) join the process group: nccl on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, owns_group=owns)


def end_distributed(info: DistInfo, *, finished: bool) -> None:
    """Leave the process group this run joined; after a finished run, only once every process is done (a rank that
    left early closed its connections under the others' last all-reduce)."""
    if not info.owns_group:
        return
    import torch.distributed as dist

    if finished:
        dist.barrier()
    dist.destroy_process_group()


def broadcast_state(module) -> None:
    """Rank 0's parameters and buffers to every process, so all start as one model."""
    import torch.distributed as dist

    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_gradients(params) -> None:
    """The mean over processes of each gradient that a backward reached in any process (the others count as zero),
    in one all-reduce per dtype and device; a parameter no process reached keeps no gradient."""
    import torch
    import torch.distributed as dist

    params = [p for p in params if p.requires_grad]
    reached = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=_collective_device(params))
    dist.all_reduce(reached)
    grads = []
    for p, hit in zip(params, reached.tolist()):
        if hit:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    _average_in_place(grads)


def average_buffers(module) -> None:
    """The mean over processes of every floating-point buffer (BatchNorm's running statistics): each process
    updates them from its own share of the batch, so without this rank 0 saved statistics of half the data. Their
    running means are then exactly the running means of all the batches; buffers equal everywhere stay so."""
    _average_in_place([b for b in module.buffers() if b.is_floating_point()])


def _average_in_place(tensors) -> None:
    """Replace each tensor by its mean over the processes: one all-reduce per dtype and device."""
    import torch
    import torch.distributed as dist

    groups: dict[tuple, list] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


def _collective_device(params):
    """Where small all-reduces go: nccl takes CUDA tensors only."""
    import torch

    return next((p.device for p in params if p.device.type == "cuda"), torch.device("cpu"))
