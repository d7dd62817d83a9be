"""A classifier's arithmetic: ``fp32``, ``bf16`` (autocast) or ``int8`` (the whole trunk quantized,
:mod:`backbones.quantize`), as for the detector (:mod:`detector.rcnn.precision`, whose checks it
shares). ``int8`` calibrates on the 1-crop inputs of up to 256 images of an ImageFolder split
(a seeded random choice), or reloads a file :func:`save_int8` wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from backbones import GoogLeNet, for_inference
from backbones.quantize import load_int8, quantize_int8

from ..data.images import read_rgb, to_tensor
from ..engine.precision import read_int8, write_int8
from ..errors import UserError
from .crops import crops
from .data import scan_image_folder

TRUNK = (None, "inception_5b")


class Autocast(nn.Module):
    """``net`` under ``torch.autocast(dtype)`` on its input's device; float32 out (each of a tuple
    of outputs). A classifier: ``[N, 3, H, W]`` -> ``[N, C]`` logits."""

    def __init__(self, net: nn.Module, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.net, self.dtype = net, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, self.dtype):
            out = self.net(x)
        return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()


def calibration_crops(folder: str | Path, input_size: int, resize: int, images: int = 256, seed: int = 0):
    """Batches of 32 ``[n, 3, S, S]`` center crops of up to ``images`` readable images of the
    ImageFolder split ``folder`` (a seeded random choice)."""
    samples, _ = scan_image_folder(folder)
    order = np.random.default_rng(seed).permutation(len(samples))
    batch, seen = [], 0
    for i in order:
        img = read_rgb(samples[i][0])
        if img is None:
            continue
        batch.append(crops(to_tensor(img), 1, input_size, resize))
        seen += 1
        if len(batch) == 32 or seen == images:
            yield torch.cat(batch)
            batch = []
        if seen == images:
            return
    if batch:
        yield torch.cat(batch)


def with_precision(
    model: GoogLeNet, precision: str, calib, input_size: int, resize: int, compile: bool = False
) -> nn.Module:
    """``model`` (float, eval) for inference in ``precision``; ``calib`` (int8): an ImageFolder
    split to calibrate on, or a :func:`save_int8` file (``*.pth``); ``compile`` (fp32, bf16):
    :func:`backbones.for_inference`'s."""
    if compile and precision == "int8":
        raise UserError("compile goes with precision fp32 or bf16, not int8")
    if precision == "fp32":
        return for_inference(model, compile=compile)
    if precision == "bf16":
        return Autocast(for_inference(model, compile=compile))
    if calib is None:
        raise UserError("precision int8 needs a calibration: an ImageFolder split, or a file from --save-int8")
    if Path(calib).is_file():
        return load_int8(model, read_int8(calib)["int8"])
    batches = list(calibration_crops(calib, input_size, resize))
    if not batches:
        raise UserError(f"{calib}: no readable images to calibrate int8 on")
    return quantize_int8(model, {TRUNK: batches})


def save_int8(path: str | Path, model: nn.Module, source: str) -> Path:
    """Write an int8 classifier's calibration to ``path`` (``source``: the checkpoint it came from)."""
    return write_int8(path, model, str(source), "classifier")
