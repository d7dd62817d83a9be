"""Building blocks of GoogLeNet: the conv unit, the Inception module and the auxiliary head.

Module and attribute names follow torchvision's ``googlenet.py`` so that the ``bn`` variant
loads torchvision state dicts key for key (``inception3a.branch2.1.conv.weight``,
``conv1.bn.running_var``, ``aux1.fc1.weight``). The ``paper`` variant uses the same names with
biased convolutions and no BatchNorm, so one set of names serves both.

All tensors are NCHW float; spatial sizes are noted as ``H x W`` of the block's input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicConv2d(nn.Module):
    """Conv -> (BatchNorm) -> ReLU.

    ``batch_norm=True``: bias-free conv + BatchNorm(eps=1e-3), torchvision's unit.
    ``batch_norm=False``: conv with bias, as in the paper (every convolution, reductions and
    projections included, is followed by a ReLU).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not batch_norm, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True)


class Inception(nn.Module):
    """The Inception module of Figure 2(b): four branches concatenated on channels.

    branch1: 1x1; branch2: 1x1 reduce -> 3x3; branch3: 1x1 reduce -> 5x5 (``five_kernel``, 3 in
    torchvision's port); branch4: 3x3/1 max pool -> 1x1 projection. Input ``[N, in, H, W]``,
    output ``[N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]``.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        batch_norm: bool,
        five_kernel: int = 5,
    ):
        super().__init__()
        bn = batch_norm
        self.branch1 = BasicConv2d(in_channels, ch1x1, bn, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, bn, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, bn, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, bn, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, bn, kernel_size=five_kernel, padding=five_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, bn, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x))
        return torch.cat(branches, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on a ``[N, C, 14, 14]`` map (inception 4a or 4d at 224 input).

    Paper: 5x5/3 average pool -> ``[N, C, 4, 4]``, 1x1 conv 128 + ReLU, FC 1024 + ReLU, dropout
    0.7, linear. ``fixed_pool=False`` is torchvision's adaptive 4x4 average pool instead.
    With ``fixed_pool=True`` and an input other than 224 (a map other than 14x14), the 5x5/3 pool
    output is brought to 4x4 by adaptive pooling so that the FC layer still fits. Output logits
    ``[N, num_classes]``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        batch_norm: bool,
        dropout: float = 0.7,
        fixed_pool: bool = True,
    ):
        super().__init__()
        self.fixed_pool = fixed_pool
        self.conv = BasicConv2d(in_channels, 128, batch_norm, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_pool and min(x.shape[-2:]) >= 5:
            x = F.avg_pool2d(x, kernel_size=5, stride=3)
        if x.shape[-2:] != (4, 4):
            x = F.adaptive_avg_pool2d(x, (4, 4))
        x = torch.flatten(self.conv(x), 1)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)
