"""Checkpoints: one ``dict`` of tensors and plain data, written atomically, read with
``torch.load(weights_only=True)``.

Layout: ``{"model": state_dict, "config": plain dict, ...extra}``; ``backbones.load_weights``
reads the ``"model"`` entry, so a checkpoint initializes a backbone directly.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from backbones.weights import CHECKPOINT_MODEL_KEY, WeightsError, safe_load

from .config import config_to_dict
from .errors import UserError
from .files import write_bytes


class CheckpointError(UserError, WeightsError):
    """A missing or unreadable checkpoint: a :class:`UserError` for this package's callers and a
    :class:`~backbones.errors.WeightsError` for the backbone's."""


def save_checkpoint(path: str | Path, model_state: dict[str, torch.Tensor], config: Any, **extra: Any) -> Path:
    """Write ``{"model", "config", **extra}`` to ``path`` atomically and synced
    (:func:`~detector.files.atomic_path`), so an interruption never leaves a truncated checkpoint.
    ``config`` is a config dataclass or an already plain dict."""
    path = Path(path)  # its folder is made by the write (one line if it cannot be)
    cfg = config if isinstance(config, dict) else config_to_dict(config)
    payload = {CHECKPOINT_MODEL_KEY: {k: v.detach().cpu() for k, v in model_state.items()}, "config": cfg, **extra}
    buf = io.BytesIO()  # serialized first: a full disk is then an OSError of the write, one line
    torch.save(payload, buf)
    return write_bytes(path, buf.getbuffer())


def load_checkpoint(
    path: str | Path, what: str = "checkpoint of this project", needs: tuple[str, ...] = (), hint: str = ""
) -> dict[str, Any]:
    """Read a checkpoint of ours (CPU tensors), the one reader of every kind: a classifier's,
    MultiBox's (``needs=("priors",)``) or a detector's (``needs=("class_names",)``). A missing or
    foreign file, or one without ``model``, ``config`` and the ``needs`` entries, is a one-line
    error saying ``what`` was expected (and ``hint``, what to do)."""
    try:
        obj = safe_load(path, what)
    except WeightsError as e:
        raise CheckpointError(str(e)) from None
    wanted = (CHECKPOINT_MODEL_KEY, "config", *needs)
    missing = [k for k in wanted if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise UserError(
            f"{path}: not a {what} (no {', '.join(repr(k) for k in missing)} entries{'; ' + hint if hint else ''})"
        )
    return obj
