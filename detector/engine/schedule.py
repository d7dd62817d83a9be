"""Learning-rate schedules as a multiplier of the base rate, per optimizer step.

- ``step``: the paper's ``gamma ** floor(epoch / step_epochs)`` (0.96 every 8 epochs).
- ``cosine``: half a cosine from 1 to ``min_factor`` over the run.
Both optionally ramp up linearly over ``warmup_epochs`` first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..config import NonNegFloat, PositiveFloat, Probability


@dataclass
class ScheduleConfig:
    kind: Literal["step", "cosine"] = "step"
    step_epochs: PositiveFloat = 8.0
    gamma: PositiveFloat = 0.96
    min_factor: Probability = 0.0
    warmup_epochs: NonNegFloat = 0.0


def lr_factor(cfg: ScheduleConfig, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    epoch = step / max(steps_per_epoch, 1)
    warm = min(1.0, (epoch + 1.0 / max(steps_per_epoch, 1)) / cfg.warmup_epochs) if cfg.warmup_epochs > 0 else 1.0
    if cfg.kind == "step":
        return warm * cfg.gamma ** math.floor(epoch / cfg.step_epochs)
    t = min(1.0, epoch / max(epochs, 1e-9))
    return warm * (cfg.min_factor + (1 - cfg.min_factor) * 0.5 * (1 + math.cos(math.pi * t)))
