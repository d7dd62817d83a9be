"""The arithmetic a model may run in at inference, and which of it a device can run."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from backbones.quantize import Int8GoogLeNet, int8_state

from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import UserError

PRECISIONS = ("fp32", "bf16", "int8")


def check_precision(precision: str, device: torch.device) -> None:
    """One line for a precision this device cannot run; nothing otherwise."""
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "int8" and device.type != "cpu":
        raise UserError("precision int8 runs on the CPU (x86 int8 kernels); use device cpu, or bf16 on CUDA")
    if precision == "bf16" and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise UserError("precision bf16: this CPU lacks bfloat16 instructions (AVX-512 BF16 or AMX); use fp32 or int8")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("precision bf16: this GPU does not support bfloat16; use fp32 (float16 autocast)")


def write_int8(path: str | Path, net, source: str, what: str) -> Path:
    """Write the int8 trunk ``net`` (an :class:`~backbones.quantize.Int8GoogLeNet`: segments, int8
    weights, scales, zero points) to ``path``, with ``source``, the checkpoint it was calibrated
    from; ``what`` (a detector, a classifier) names the model in the error for any other ``net``."""
    if not isinstance(net, Int8GoogLeNet):
        raise UserError(f"only an int8 {what} (precision int8) has a calibration to save")
    return save_checkpoint(path, {}, {}, source=source, int8=int8_state(net))


def read_int8(path: str | Path) -> dict:
    """What :func:`write_int8` wrote (``{"int8", "source", ...}``), or one line naming ``path``."""
    with warnings.catch_warnings():  # torch's own rebuild of quantized tensors warns about TypedStorage
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
        return load_checkpoint(path, "int8 calibration", needs=("int8", "source"), hint="write one with --save-int8")
