"""GoogLeNet (Inception v1), as the paper's Table 1 and as torchvision's BatchNorm port.

Input: ``[N, 3, H, W]`` float RGB, normalized with the ImageNet mean/std (``IMAGENET_MEAN``,
``IMAGENET_STD`` on [0, 1] pixels); weights trained on another convention map it onto theirs in
their first step, ``input_transform`` (:mod:`backbones.transform`). Any ``H, W >= 224`` works, smaller ones too down to about
48 px (64 px for the paper variant's auxiliary heads). Feature maps are NCHW; a tap's stride is
the ratio of input size to map size (rounded up, the pools use ``ceil_mode``).

Variants
--------
``paper``: Table 1 of Szegedy et al. 2014 exactly: biased convolutions each followed by ReLU,
real 5x5 convolutions, LRN (size 5, alpha 1e-4, beta 0.75, the BVLC replica's values) after the
first max pool and after conv2's 3x3, 3x3/2 max pools, 40% dropout, auxiliary heads on 4a and 4d
with a 5x5/3 average pool. The final "avg pool 7x7/1" is a global average pool (identical at
224 input, and it lets larger inputs through).

``bn``: torchvision's ``googlenet`` layer for layer, so its ImageNet state dict loads key for
key. It differs from the paper in: BatchNorm (eps 1e-3) after every bias-free conv; no LRN; the
"5x5" branch uses a 3x3 kernel (inherited from the TF-slim port; the released weights need it);
the pool between 4e and 5a is 2x2/2; 20% main dropout; auxiliary heads pool adaptively to 4x4
(they are not pretrained in the released weights).

Return types never depend on anything but ``self.training`` and ``aux_logits``: ``forward``
returns logits ``[N, num_classes]``, except in training mode with auxiliary heads, where it
returns ``GoogLeNetOutputs(logits, aux1, aux2)`` (aux1 on inception 4a, aux2 on 4d), always in
that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BasicConv2d, Inception, InceptionAux
from .transform import InputTransform

# (in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj): Table 1's columns.
INCEPTION_SPECS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}
# The feature taps of both variants, shallow to deep (:attr:`GoogLeNet.feature_info` adds channels, strides).
TAPS: tuple[str, ...] = ("conv1", "conv2", *(f"inception_{name[-2:]}" for name in INCEPTION_SPECS))


@dataclass(frozen=True)
class VariantSpec:
    """What distinguishes the two variants; see the module docstring."""

    batch_norm: bool
    five_kernel: int
    lrn: bool
    pool4_kernel: int
    dropout: float
    aux_fixed_pool: bool


VARIANTS: dict[str, VariantSpec] = {
    "paper": VariantSpec(False, 5, True, 3, 0.4, True),
    "bn": VariantSpec(True, 3, False, 2, 0.2, False),
}


@dataclass(frozen=True)
class FeatureInfo:
    """A named feature map the network exposes: ``channels`` and ``stride`` w.r.t. the input."""

    name: str
    channels: int
    stride: int


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with auxiliary heads; each entry ``[N, num_classes]`` logits."""

    logits: torch.Tensor
    aux1: torch.Tensor  # on inception 4a
    aux2: torch.Tensor  # on inception 4d


class GoogLeNet(nn.Module):
    """GoogLeNet of either variant. Build it with :func:`backbones.googlenet`."""

    def __init__(
        self,
        variant: str = "paper",
        num_classes: int = 1000,
        aux_logits: bool = True,
        dropout: float | None = None,
        dropout_aux: float = 0.7,
        transform_input: bool | str = False,
        bvlc_mean: tuple[float, float, float] | None = None,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown googlenet variant {variant!r}; expected one of {sorted(VARIANTS)}")
        spec = VARIANTS[variant]
        bn = spec.batch_norm
        self.variant = variant
        self.num_classes = num_classes
        self.aux_logits = aux_logits
        self.input_transform = InputTransform(transform_input, bvlc_mean)

        self.conv1 = BasicConv2d(3, 64, bn, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if spec.lrn else None
        self.conv2 = BasicConv2d(64, 64, bn, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, bn, kernel_size=3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if spec.lrn else None
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception3a", "inception3b"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], bn, spec.five_kernel))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], bn, spec.five_kernel))
        self.maxpool4 = nn.MaxPool2d(spec.pool4_kernel, stride=2, ceil_mode=True)
        for name in ("inception5a", "inception5b"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], bn, spec.five_kernel))
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, bn, dropout_aux, spec.aux_fixed_pool)
            self.aux2 = InceptionAux(528, num_classes, bn, dropout_aux, spec.aux_fixed_pool)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=spec.dropout if dropout is None else dropout)
        self.fc = nn.Linear(1024, num_classes)
        self._init_weights()

    # -- structure -------------------------------------------------------------------------
    @property
    def feature_info(self) -> list[FeatureInfo]:
        """The feature taps :meth:`forward_features` can return, shallow to deep."""
        return [FeatureInfo(name, ch, stride) for name, ch, stride, _ in self._stages()]

    def _stages(self) -> list[tuple[str, int, int, list[nn.Module]]]:
        """``(tap name, channels, stride, modules run before the tap)`` in network order."""
        stages = [
            ("conv1", 64, 2, [self.conv1]),
            ("conv2", 192, 4, [self.maxpool1, self.lrn1, self.conv2, self.conv3, self.lrn2]),
        ]
        pools = {"inception3a": self.maxpool2, "inception4a": self.maxpool3, "inception5a": self.maxpool4}
        stride = 4
        for tap, name in zip(TAPS[2:], INCEPTION_SPECS, strict=True):
            block = getattr(self, name)
            mods = [block]
            if name in pools:
                stride *= 2
                mods = [pools[name], block]
            stages.append((tap, block.out_channels, stride, mods))
        return [(n, c, s, [m for m in mods if m is not None]) for n, c, s, mods in stages]

    def _init_weights(self) -> None:
        # He (fan-in) init keeps activations at scale through 22 ReLU layers even without BN (paper
        # variant); small normal for linear layers so initial logits are near zero; BN at identity.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # -- forward ---------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor, taps: tuple[str, ...] = ("inception_5b",)) -> dict[str, torch.Tensor]:
        """Run the trunk up to the deepest requested tap.

        Args:
            x: ``[N, 3, H, W]`` normalized images.
            taps: names from :attr:`feature_info` (e.g. ``"inception_4e"``, stride 16).
        Returns:
            ``{tap: [N, C, ceil(H/stride), ceil(W/stride)]}`` (exact sizes follow the pools'
            ceil arithmetic) for each requested tap.
        """
        stages = self._stages()
        known = [name for name, *_ in stages]
        unknown = [t for t in taps if t not in known]
        if unknown:
            raise KeyError(f"unknown feature tap(s) {unknown}; available: {known}")
        wanted = set(taps)
        out: dict[str, torch.Tensor] = {}
        x = self.input_transform(x)
        for name, _, _, mods in stages:
            for m in mods:
                x = m(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out

    def forward_from(self, x: torch.Tensor, after: str, tap: str = "inception_5b") -> torch.Tensor:
        """Continue the trunk from the output of tap ``after`` (e.g. RoI features pooled from the
        ``inception_4e`` map, ``[R, 832, h, w]``) up to ``tap``; the layers in between (pools
        included) run on ``x`` as they would on the full map."""
        stages = self._stages()
        names = [name for name, *_ in stages]
        if after not in names or tap not in names or names.index(tap) <= names.index(after):
            raise KeyError(f"cannot run from {after!r} to {tap!r}; taps in order: {names}")
        for _, _, _, mods in stages[names.index(after) + 1 : names.index(tap) + 1]:
            for m in mods:
                x = m(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, 1024, h, w]`` inception 5b map -> ``[N, num_classes]`` logits."""
        x = torch.flatten(self.avgpool(features), 1)
        return self.fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        """``[N, 3, H, W]`` -> logits ``[N, num_classes]``, or ``GoogLeNetOutputs`` when training
        with auxiliary heads (see the module docstring)."""
        with_aux = self.training and self.aux1 is not None
        taps = ("inception_4a", "inception_4d", "inception_5b") if with_aux else ("inception_5b",)
        feats = self.forward_features(x, taps)
        logits = self.forward_head(feats["inception_5b"])
        if not with_aux:
            return logits
        return GoogLeNetOutputs(logits, self.aux1(feats["inception_4a"]), self.aux2(feats["inception_4d"]))


def aux_loss_weighted(
    outputs: torch.Tensor | GoogLeNetOutputs,
    target: torch.Tensor,
    aux_weight: float = 0.3,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross entropy of the main logits plus ``aux_weight`` times each auxiliary head's (paper
    Section 5: weight 0.3). ``target`` is ``[N]`` int64 class indices."""
    ce = lambda logits: F.cross_entropy(logits, target, label_smoothing=label_smoothing)  # noqa: E731
    if isinstance(outputs, GoogLeNetOutputs):
        return ce(outputs.logits) + aux_weight * (ce(outputs.aux1) + ce(outputs.aux2))
    return ce(outputs)
