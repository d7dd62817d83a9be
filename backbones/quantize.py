"""int8 GoogLeNet on the CPU: post-training static quantization of the folded trunk.

FX graph mode quantization with PyTorch's ``x86`` backend (fbgemm and oneDNN kernels; AVX-512
VNNI int8 dot products where the CPU has them), the recipe of torchvision's quantized GoogLeNet:
weights int8 per output channel (symmetric), activations uint8 per tensor from a histogram of the
calibration inputs, each convolution fused with its ReLU, max pools and concatenations on int8.
BN is folded first and each Inception's 1x1 convolutions stay apart (:func:`for_inference` with
``merge=False``: a merged one's channel split would run in float).

A *segment* is the trunk from one tap to another, ``(after, tap)`` (``after=None``: from the
image, the input transform included), quantized as one graph: float in, float out, int8 within.
A classifier or ``rcnn`` uses ``(None, "inception_5b")``; ``fast`` uses ``(None, roi_tap)`` on
the image and ``(roi_tap, "inception_5b")`` on the pooled regions. Each segment is calibrated on
inputs of its own (images, or pooled regions) and recorded in its ``state_dict``, so a quantized
model reloads without data (:func:`load_int8`). The global pool and the classifier stay float.

Frames: inputs ``[N, 3, H, W]`` normalized images (or ``[R, C, h, w]`` features of tap ``after``);
outputs as :class:`~backbones.googlenet.GoogLeNet`'s, float32.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

import torch
from torch import nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from .googlenet import GoogLeNet
from .inference import InferenceGoogLeNet, for_inference

Segment = tuple[str | None, str]  # (after, tap): the trunk after tap `after` (None: the image) up to `tap`
ENGINE = "x86"


def segment_name(seg: Segment) -> str:
    """``(None, "inception_5b")`` -> ``"image-inception_5b"`` (a module name)."""
    return f"{seg[0] or 'image'}-{seg[1]}"


def _modules(net: GoogLeNet, seg: Segment) -> nn.Sequential:
    """The float modules of ``seg`` in order (the input transform first when it starts at the image)."""
    stages = net._stages()
    names = [name for name, *_ in stages]
    after, tap = seg
    if tap not in names or (after is not None and (after not in names or names.index(after) >= names.index(tap))):
        raise KeyError(f"cannot quantize the trunk from {after or 'the image'!r} to {tap!r}; taps in order: {names}")
    first = 0 if after is None else names.index(after) + 1
    mods = [net.input_transform] if after is None else []
    for _, _, _, ms in stages[first : names.index(tap) + 1]:
        mods.extend(ms)
    return nn.Sequential(*mods)


def _prepared(net: GoogLeNet, seg: Segment, example: torch.Tensor):
    torch.backends.quantized.engine = ENGINE
    with warnings.catch_warnings():  # FX graph mode's deprecation notice (its successor needs torchao)
        warnings.simplefilter("ignore")
        return prepare_fx(copy.deepcopy(_modules(net, seg)).eval(), get_default_qconfig_mapping(ENGINE), (example,))


def _converted(prepared) -> nn.Module:
    with warnings.catch_warnings():  # an observer that saw no data (load_int8) warns; its values are replaced
        warnings.simplefilter("ignore")
        return convert_fx(prepared)


class Int8GoogLeNet(nn.Module):
    """A GoogLeNet whose trunk segments run in int8; the same methods as
    :class:`~backbones.inference.InferenceGoogLeNet` for the segments it holds.

    ``forward_features(x, (tap,))`` needs segment ``(None, tap)``; ``forward_from(x, after, tap)``
    needs ``(after, tap)``; a missing segment is a ``KeyError`` naming the ones it has.
    """

    def __init__(self, net: InferenceGoogLeNet, segments: dict[Segment, nn.Module], shapes: dict[Segment, list[int]]):
        super().__init__()
        self.float_net = net  # the head (pool, classifier) and feature_info; its trunk is not run
        self.keys = list(segments)
        self.shapes = {k: list(shapes[k]) for k in self.keys}  # an input shape of each (for tracing on reload)
        self.segments = nn.ModuleDict({segment_name(k): m for k, m in segments.items()})

    @property
    def feature_info(self):
        return self.float_net.feature_info

    def _run(self, seg: Segment, x: torch.Tensor) -> torch.Tensor:
        name = segment_name(seg)
        if name not in self.segments:
            raise KeyError(f"no int8 segment {name}; this model has {list(self.segments)}")
        return self.segments[name](x.contiguous(memory_format=torch.channels_last))

    def forward_features(self, x: torch.Tensor, taps: tuple[str, ...] = ("inception_5b",)) -> dict[str, torch.Tensor]:
        if len(taps) != 1:
            raise KeyError(f"an int8 GoogLeNet returns one tap at a time, not {list(taps)}")
        return {taps[0]: self._run((None, taps[0]), x)}

    def forward_from(self, x: torch.Tensor, after: str, tap: str = "inception_5b") -> torch.Tensor:
        return self._run((after, tap), x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.float_net.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x)["inception_5b"])


@torch.inference_mode()
def quantize_int8(model: GoogLeNet, calib: dict[Segment, Iterable[torch.Tensor]]) -> Int8GoogLeNet:
    """An int8 copy of ``model`` (left untouched) with one segment per key of ``calib``, each
    calibrated on its batches (``[N, 3, H, W]`` images, or the features of tap ``after``)."""
    net = for_inference(model, merge=False)
    segments, shapes = {}, {}
    for seg, batches in calib.items():
        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            raise ValueError(f"int8 segment {segment_name(seg)}: no calibration inputs")
        prepared = _prepared(net.net, seg, first)
        for x in (first, *batches):
            prepared(x.contiguous(memory_format=torch.channels_last))
        segments[seg], shapes[seg] = _converted(prepared), [1, *first.shape[1:]]
    return Int8GoogLeNet(net, segments, shapes).eval()


def int8_state(model: Int8GoogLeNet) -> dict:
    """What :func:`load_int8` needs beside the float weights: the segments and their int8
    weights, scales and zero points (plain tensors, for ``torch.load(weights_only=True)``)."""
    return {
        "segments": [[a, t, model.shapes[(a, t)]] for a, t in model.keys],
        "state": model.segments.state_dict(),
    }


def load_int8(model: GoogLeNet, saved: dict) -> Int8GoogLeNet:
    """The :class:`Int8GoogLeNet` :func:`int8_state` described, rebuilt on the float ``model`` it
    was made from, without calibration data: the same outputs, bit for bit."""
    net = for_inference(model, merge=False)
    segments, shapes = {}, {}
    for after, tap, shape in saved["segments"]:
        seg = (after, tap)
        segments[seg], shapes[seg] = _converted(_prepared(net.net, seg, torch.zeros(shape))), shape
    out = Int8GoogLeNet(net, segments, shapes).eval()
    out.segments.load_state_dict(saved["state"])
    return out
