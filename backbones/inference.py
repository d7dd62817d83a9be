"""The fast inference path: ``for_inference(model)``.

Transformations, each exact up to float rounding:

1. BatchNorm folded into the preceding convolution (``bn`` variant).
2. The three 1x1 convolutions of an Inception module that read the same input (branch 1, and
   the reductions of branches 2 and 3) merged into one wider 1x1 convolution, then split.
3. Auxiliary heads dropped, dropout gone (eval mode).
4. Weights and activations in ``channels_last`` memory format (oneDNN's fast layout on CPU,
   tensor cores' on CUDA).

5. Optionally (``compile=True``) ``forward_features``, ``forward_from`` and ``forward_head``
   compiled by ``torch.compile`` (inductor, weights frozen as constants so that oneDNN prepacks
   them, dynamic batch size): 1.2-1.7x the eager path in float32 and 1.4x under bfloat16 autocast
   on this project's CPUs, the same outputs to float rounding. The first call compiles (1-2
   minutes on 2 cores); inductor's on-disk cache (``TORCHINDUCTOR_CACHE_DIR``, by default under
   the temporary folder) brings a later process's start to ~10 s.

Run the result under ``torch.inference_mode()``. Input and output are those of the model:
``[N, 3, H, W]`` float -> ``[N, num_classes]`` logits; :meth:`InferenceGoogLeNet.forward_features`
returns the same taps as the model's.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .googlenet import GoogLeNet
from .layers import BasicConv2d, Inception


def _fold_bn(unit: BasicConv2d) -> None:
    if unit.bn is not None:
        unit.conv = fuse_conv_bn_eval(unit.conv, unit.bn)
        unit.bn = None


class MergedInception(nn.Module):
    """An :class:`Inception` whose three input 1x1 convolutions run as one.

    ``[N, in, H, W]`` -> ``[N, out, H, W]``, the same values as the source module.
    """

    def __init__(self, block: Inception):
        super().__init__()
        units = [block.branch1, block.branch2[0], block.branch3[0]]
        for u in units:
            _fold_bn(u)
        for u in (block.branch2[1], block.branch3[1], block.branch4[1]):
            _fold_bn(u)
        convs = [u.conv for u in units]
        self.splits = [c.out_channels for c in convs]
        merged = nn.Conv2d(convs[0].in_channels, sum(self.splits), kernel_size=1)
        with torch.no_grad():
            merged.weight.copy_(torch.cat([c.weight for c in convs]))
            merged.bias.copy_(torch.cat([c.bias if c.bias is not None else torch.zeros(c.out_channels) for c in convs]))
        self.reduce = merged
        self.conv3x3 = block.branch2[1]
        self.conv5x5 = block.branch3[1]
        self.pool_proj = block.branch4
        self.out_channels = block.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, r2, r3 = F.relu(self.reduce(x), inplace=True).split(self.splits, dim=1)
        return torch.cat((b1, self.conv3x3(r2), self.conv5x5(r3), self.pool_proj(x)), 1)


class InferenceGoogLeNet(nn.Module):
    """Eval-only GoogLeNet with folded BN, merged 1x1s and channels_last; see the module doc."""

    def __init__(self, model: GoogLeNet, memory_format: torch.memory_format = torch.channels_last):
        super().__init__()
        self.memory_format = memory_format
        self.net = model

    @property
    def feature_info(self):
        return self.net.feature_info

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=self.memory_format)

    def forward_features(self, x: torch.Tensor, taps: tuple[str, ...] = ("inception_5b",)) -> dict[str, torch.Tensor]:
        return self.net.forward_features(self._prepare(x), taps)

    def forward_from(self, x: torch.Tensor, after: str, tap: str = "inception_5b") -> torch.Tensor:
        return self.net.forward_from(self._prepare(x), after, tap)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x)["inception_5b"])


def for_inference(
    model: GoogLeNet, memory_format: torch.memory_format = torch.channels_last, merge: bool = True,
    compile: bool = False,
) -> InferenceGoogLeNet:  # fmt: skip
    """A fast, eval-only copy of ``model`` (the original is left untouched); see the module doc.
    ``merge=False`` keeps each Inception's 1x1 convolutions apart (step 2 skipped): int8 graphs
    quantize each convolution, but not the channel split after a merged one. ``compile``: step 5."""
    net = copy.deepcopy(model).eval()
    net.aux1 = net.aux2 = None
    net.aux_logits = False
    for name, _ in list(net.named_children()):
        child = getattr(net, name)
        if isinstance(child, Inception) and merge:
            setattr(net, name, MergedInception(child))
        elif isinstance(child, Inception):
            for unit in child.modules():
                if isinstance(unit, BasicConv2d):
                    _fold_bn(unit)
        elif isinstance(child, BasicConv2d):
            _fold_bn(child)
    net = net.to(memory_format=memory_format)
    for p in net.parameters():
        p.requires_grad_(False)
    out = InferenceGoogLeNet(net, memory_format).eval()
    if compile:
        for name in ("forward_features", "forward_from", "forward_head"):
            setattr(out, name, _frozen(torch.compile(getattr(out, name), dynamic=True)))
    return out


def _frozen(compiled):
    """``compiled`` called with inductor's freezing on (read when a call compiles; the ``options``
    of ``torch.compile`` do not reach it), so that oneDNN prepacks the weights and fuses the ReLUs."""

    def call(*args, **kwargs):
        with torch._inductor.config.patch(freezing=True):
            return compiled(*args, **kwargs)

    return call
