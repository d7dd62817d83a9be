"""One process or many (``torchrun``): who we are, where we run, and collective helpers.

Under ``torchrun --nproc_per_node=N`` the environment names the rank and world size; the
process group uses NCCL on CUDA and gloo on the CPU. Without it, everything degrades to a
single process with no communication.

Every wait is bounded: collectives by the process group's timeout, and :func:`barrier` by a
gloo ``monitored_barrier`` with the same timeout (``timeout`` of :func:`setup`, a trainer's
``dist_timeout``: long enough for one rank's share of the proposals), which names the rank that
did not arrive; its end is a one-line :class:`DistributedTimeout`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import UserError

DEFAULT_TIMEOUT = 7200.0  # seconds any rank waits for the others (a rank's share of proposals fits)


class DistributedTimeout(UserError):
    """Another process did not reach a barrier in time (it died, hung, or is far behind)."""


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    timeout: float = DEFAULT_TIMEOUT  # seconds a barrier or collective waits for the other ranks
    barrier_group: object = None  # the gloo group of monitored barriers (set up with the process group)

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


def setup(device: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> DistContext:
    """Initialize the process group when launched by torchrun; pick the device.

    ``device``: ``"auto"`` (CUDA when available, one GPU per local rank), ``"cpu"`` or ``"cuda"``;
    ``timeout``: seconds any collective or barrier waits for the other ranks.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    use_cuda = dev.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(dev)
    group = None
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group(
                "nccl" if use_cuda else "gloo", rank=rank, world_size=world, timeout=timedelta(seconds=timeout)
            )
        # monitored_barrier needs gloo: a side group of it where the main one is NCCL
        gloo = dist.get_backend() == "gloo"
        group = None if gloo else dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout))
    return DistContext(rank, world, local, dev, timeout, group)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum over ranks (in place, returned); identity for one process."""
    if ctx.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(ctx: DistContext, what: str = "a barrier") -> None:
    """Wait (at most ``ctx.timeout`` seconds) until every rank reaches this point; a rank that
    does not is a :class:`DistributedTimeout` naming it and ``what`` was being waited for."""
    if not ctx.distributed:
        return
    try:
        dist.monitored_barrier(group=ctx.barrier_group, timeout=timedelta(seconds=ctx.timeout), wait_all_ranks=True)
    except RuntimeError as e:
        raise DistributedTimeout(_timeout_message(str(e), ctx, what)) from None


def _timeout_message(error: str, ctx: DistContext, what: str) -> str:
    """One line from torch's monitored_barrier error: which rank(s) did not arrive."""
    late = re.search(r"[Rr]anks? \[?([\d, ]+)\]? failed to pass", error) or re.search(
        r"from ranks: \[([\d, ]+)\]", error
    )
    who = f"rank(s) {late.group(1).strip()}" if late else ("rank 0" if ctx.rank else "another rank")
    return (
        f"rank {ctx.rank}: {who} did not reach {what} within {ctx.timeout:g} s (it died, hung or is far "
        "behind; the wait is dist_timeout)"
    )


def all_gather_objects(obj, ctx: DistContext) -> list:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` for one process."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out
