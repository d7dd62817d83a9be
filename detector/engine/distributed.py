"""One process or many (``torchrun``): who we are, where we run, and collective helpers.

Under ``torchrun --nproc_per_node=N`` the environment names the rank and world size; the
process group uses NCCL on CUDA and gloo on the CPU. Without it, everything degrades to a
single process with no communication.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import UserError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` (CUDA when available; GPU ``local_rank`` modulo their count), ``"cpu"``, ``"cuda"``
    or ``"cuda:N"``; CUDA asked for where there is none is a one-line :class:`UserError`."""
    name = str(device)
    if name not in ("auto", "cpu") and not name.startswith("cuda"):
        raise UserError(f"device {name!r}: expected 'auto', 'cpu' or 'cuda'")
    use_cuda = torch.cuda.is_available() if name == "auto" else name.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise UserError("device 'cuda' was requested but no CUDA device is available")
    if not use_cuda:
        return torch.device("cpu")
    return torch.device(name) if ":" in name else torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


def setup(device: str = "auto") -> DistContext:
    """Initialize the process group when launched by torchrun; pick the device.

    ``device``: ``"auto"`` (CUDA when available, one GPU per local rank), ``"cpu"`` or ``"cuda"``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    use_cuda = dev.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistContext(rank, world, local, dev)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum over ranks (in place, returned); identity for one process."""
    if ctx.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def all_gather_objects(obj, ctx: DistContext) -> list:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` for one process."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out
