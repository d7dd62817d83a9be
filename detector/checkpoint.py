"""Checkpoints: one ``dict`` of tensors and plain data, written atomically, read with
``torch.load(weights_only=True)``.

Layout: ``{"model": state_dict, "config": plain dict, ...extra}``; ``backbones.load_weights``
reads the ``"model"`` entry, so a checkpoint initializes a backbone directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from backbones.weights import CHECKPOINT_MODEL_KEY, safe_load

from .cli import UserError
from .config import config_to_dict


def save_checkpoint(path: str | Path, model_state: dict[str, torch.Tensor], config: Any, **extra: Any) -> Path:
    """Write ``{"model", "config", **extra}`` to ``path`` via a temporary file and ``os.replace``,
    so an interruption never leaves a truncated checkpoint. ``config`` is a config dataclass or
    an already plain dict."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = config if isinstance(config, dict) else config_to_dict(config)
    payload = {CHECKPOINT_MODEL_KEY: {k: v.detach().cpu() for k, v in model_state.items()}, "config": cfg, **extra}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint of ours (CPU tensors); a missing or foreign file is a one-line error."""
    obj = safe_load(path, "checkpoint")
    if not isinstance(obj, dict) or CHECKPOINT_MODEL_KEY not in obj or "config" not in obj:
        raise UserError(f"{path}: not a checkpoint of this project (expected 'model' and 'config' entries)")
    return obj
