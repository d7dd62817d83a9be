"""Optimizer settings shared by every trainer, and building the optimizer from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from ..config import NonNegFloat, PositiveFloat, PositiveInt, Probability
from .schedule import ScheduleConfig


@dataclass
class OptimConfig:
    name: Literal["sgd", "adamw"] = "sgd"  # the paper's SGD with momentum, or AdamW
    batch_size: PositiveInt = 32  # global, split across processes
    epochs: PositiveInt = 90
    lr: PositiveFloat = 0.01
    momentum: Probability = 0.9  # SGD
    nesterov: bool = False  # SGD
    betas: tuple[Probability, Probability] = (0.9, 0.999)  # AdamW
    weight_decay: NonNegFloat = 2e-4
    label_smoothing: Probability = 0.0
    aux_weight: NonNegFloat = 0.3
    ema_decay: Probability = 0.9999
    grad_clip: PositiveFloat | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


def make_optimizer(model: torch.nn.Module, o: OptimConfig) -> torch.optim.Optimizer:
    """SGD or AdamW; no weight decay on biases and normalization parameters (1-D tensors)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if o.name == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=o.betas)
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)
