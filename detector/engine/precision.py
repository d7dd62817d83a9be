"""The arithmetic a model may run in at inference, and which of it a device can run."""

from __future__ import annotations

import torch

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
