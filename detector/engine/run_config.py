"""How a training run runs, whatever it trains (no training machinery imported: inference code
reads these configs from checkpoints too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import NonNegInt, PositiveFloat, PositiveInt


@dataclass
class RunConfig:
    """How a training run runs, whatever it trains; every trainer's config derives from it."""

    seed: NonNegInt = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # mixed precision on CUDA
    channels_last: bool = True
    sync_bn: bool = True  # SyncBatchNorm across processes on CUDA
    log_every: PositiveInt = 20  # steps
    eval_every: NonNegInt = 1  # epochs (the last one always); 0: never validate, not even at the end
    checkpoint_every: NonNegInt = 0  # steps; 0: at the end of each epoch only
    dist_timeout: PositiveFloat = 7200.0  # seconds a process waits for the others (torchrun): a barrier
    # after one rank's share of the proposals, a collective; past it, one line naming the late rank


__all__ = ["RunConfig"]
