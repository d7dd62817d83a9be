"""How a training run runs, whatever it trains (no training machinery imported: inference code
reads these configs from checkpoints too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class RunConfig:
    """How a training run runs, whatever it trains; every trainer's config derives from it."""

    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # mixed precision on CUDA
    channels_last: bool = True
    sync_bn: bool = True  # SyncBatchNorm across processes on CUDA
    log_every: int = 20  # steps
    eval_every: int = 1  # epochs (the last one always); 0: never validate, not even at the end
    checkpoint_every: int = 0  # steps; 0: at the end of each epoch only


__all__ = ["RunConfig"]
