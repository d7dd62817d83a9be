"""The detector's arithmetic: ``fp32`` (default), ``bf16`` or ``int8``.

Which precision a device can run: :func:`~detector.engine.precision.check_precision`.

- ``bf16``: the region network under ``torch.autocast`` in bfloat16 (oneDNN's AVX-512 BF16 or AMX
  kernels on a CPU; tensor cores on CUDA); weights stay float32. A CPU without bf16 instructions
  is refused in one line (autocast would emulate it, slower than float32).
- ``int8`` (CPU): the trunk quantized after training (:mod:`backbones.quantize`: x86 kernels,
  weights per channel, activations per tensor), calibrated on the inputs the trunk sees when the
  detector scores a few hundred regions of sample images: warped crops (``rcnn``), or the image
  and the pooled regions (``fast``). The heads (pool, classifier, box regression) stay float32.
  :func:`save_int8` / :func:`load_int8_detector` save and restore the calibration.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from backbones.quantize import load_int8, quantize_int8

from ..engine.precision import PRECISIONS, check_precision, read_int8, write_int8
from ..errors import UserError
from .data import prepare_image
from .model import RegionDetector, with_backbone


class _Recorder:
    """Stands in for a detector's trunk: runs the float one and keeps each segment's inputs."""

    def __init__(self, net, budget: int):
        self.net, self.budget = net, budget
        self.inputs: dict[tuple[str | None, str], list[torch.Tensor]] = {}
        self.feature_info = net.feature_info

    def parameters(self):
        return self.net.parameters()

    def _keep(self, seg, x: torch.Tensor) -> None:
        kept = self.inputs.setdefault(seg, [])
        room = self.budget - sum(len(t) for t in kept)
        if room > 0:
            kept.append(x[:room].detach().clone())

    def forward_features(self, x, taps=("inception_5b",)):
        self._keep((None, taps[0]), x)
        return self.net.forward_features(x, taps)

    def forward_from(self, x, after, tap="inception_5b"):
        self._keep((after, tap), x)
        return self.net.forward_from(x, after, tap)

    def forward_head(self, x):
        return self.net.forward_head(x)


@torch.inference_mode()
def quantize_detector(
    model: RegionDetector, folded: RegionDetector, samples: Iterable[tuple[torch.Tensor, torch.Tensor]],
    regions: int = 512, seed: int = 0,
) -> RegionDetector:  # fmt: skip
    """``model`` (float, BN not folded) with an int8 trunk, calibrated by scoring ``samples``:
    ``(image [3, H, W] normalized, boxes [N, 4] in its pixels)``, at most 64 boxes an image drawn
    at random, until ``regions`` regions (and the images they need) were seen. ``folded``
    (:func:`~.model.fold_for_inference` of ``model``) does the scoring."""
    recorder = _Recorder(folded.backbone, regions)
    scorer = with_backbone(folded, recorder)
    g = torch.Generator().manual_seed(seed)
    seen = 0
    for image, boxes in samples:
        if len(boxes) > 64:
            boxes = boxes[torch.randperm(len(boxes), generator=g)[:64]]
        x, scale = prepare_image(image, folded.cfg)
        scorer.predict(x, boxes * scale)
        seen += len(boxes)
        if seen >= regions:
            break
    if not recorder.inputs:
        raise UserError("int8 calibration: no regions to calibrate on (no readable images with proposals)")
    batches = {seg: _batches(xs) for seg, xs in recorder.inputs.items()}
    return with_backbone(model, quantize_int8(model.backbone, batches))


def _batches(xs: list[torch.Tensor], size: int = 64) -> list[torch.Tensor]:
    return list(torch.cat(xs).split(size)) if xs[0].dim() == 4 and len({x.shape[1:] for x in xs}) == 1 else xs


def save_int8(path: str | Path, model: RegionDetector, source: str) -> Path:
    """Write ``model``'s int8 trunk (segments, int8 weights, scales, zero points) to ``path``;
    ``source``: the detector checkpoint it was calibrated from."""
    return write_int8(path, model.backbone, str(Path(source).resolve()), "detector")


def load_int8_detector(model: RegionDetector, path: str | Path, source: str) -> RegionDetector:
    """``model`` (float, BN not folded) with the int8 trunk :func:`save_int8` wrote to ``path``."""
    obj = read_int8(path)
    if obj["source"] != str(Path(source).resolve()):
        raise UserError(f"{path}: calibrated for {obj['source']}, not {source}")
    return with_backbone(model, load_int8(model.backbone, obj["int8"]))


__all__ = ["PRECISIONS", "check_precision", "load_int8_detector", "quantize_detector", "save_int8", "with_backbone"]
