"""The convolutional MultiBox head (Szegedy et al. 2014, "Scalable, High-Quality Object Detection",
arXiv 1412.1441; the step SSD and the RPN took too): a box and a confidence at every cell of
several Inception maps, each tied to a prior centred on the cell.

Frames: the network sees the image resized so that its shorter side is ``data.input_size``
(the longer at most ``data.max_size``; the aspect ratio kept) and padded at the bottom and right
to a multiple of the trunk's stride, 32. Priors and raw predictions are in that input's pixels;
:meth:`ConvMultiBoxNet.forward` returns boxes normalized by each image's unpadded input size, the
frame of the global head (:mod:`.multibox`), so decoding and every caller are shared.

Levels and priors: level ``l`` is a tap of stride ``s_l`` (default ``inception_3b`` 8,
``inception_4e`` 16, ``inception_5b`` 32). A box of size ``sqrt(w h)`` (input pixels) belongs to
the level whose nominal size ``8 s_l`` is nearest on a log scale, so the bounds between levels are
the geometric means of neighbouring nominal sizes (91 and 181 px by default). Each level's
``priors_per_level`` prior sizes are k-means in ``(log w, log h)`` over its training boxes (the
paper's clustering, per level); a level with fewer boxes than priors gets its nominal square with
1:2 and 2:1 boxes of the same area. Prior ``a`` of cell ``(i, j)`` is centred at
``((j + 0.5) s_l, (i + 0.5) s_l)``.

Offsets are encoded relative to the prior as in SSD: ``(dx, dy) = (c - c_p) / (0.1 w_p)`` and
``(dw, dh) = log(w / w_p) / 0.2``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from torch import nn

from backbones import GoogLeNet

VARIANCES = (0.1, 0.2)  # of the centre and the size offsets (SSD's)
STRIDE = 32  # the trunk's total stride: inputs are padded to a multiple of it


def level_bounds(strides: list[int]) -> np.ndarray:
    """``[L - 1]`` box sizes (input pixels) between neighbouring levels: geometric means of
    their nominal sizes ``8 * stride``."""
    nominal = 8.0 * np.asarray(strides, np.float64)
    return np.sqrt(nominal[:-1] * nominal[1:])


def assign_levels(wh: np.ndarray, strides: list[int]) -> np.ndarray:
    """``[N]`` level index of each ``[N, 2]`` box size (input pixels) by its ``sqrt(w h)``."""
    size = np.sqrt(np.prod(np.asarray(wh, np.float64).reshape(-1, 2), 1))
    return np.searchsorted(level_bounds(strides), size, side="right")


def _default_priors(stride: int, k: int) -> np.ndarray:
    side = 8.0 * stride
    ratios = [1.0, 0.5, 2.0] + [float(r) for r in np.geomspace(0.25, 4.0, max(k - 3, 0))]
    return np.array([[side * np.sqrt(r), side / np.sqrt(r)] for r in ratios[:k]], np.float32)


def level_priors(wh: np.ndarray, strides: list[int], k: int, seed: int = 0) -> np.ndarray:
    """``[L, k, 2]`` prior ``(w, h)`` per level (input pixels): k-means in log size over the
    ``[N, 2]`` training box sizes assigned to each level (:func:`assign_levels`), sorted by area;
    :func:`_default_priors` for a level with fewer than ``k`` boxes."""
    wh = np.asarray(wh, np.float64).reshape(-1, 2)
    wh = wh[(wh > 0).all(1)]
    levels = assign_levels(wh, strides)
    out = []
    for lvl, stride in enumerate(strides):
        mine = np.log(wh[levels == lvl])
        if len(mine) < k:
            out.append(_default_priors(stride, k))
            continue
        centers, _ = kmeans2(mine, k, minit="++", seed=np.random.default_rng([seed, lvl]))
        sizes = np.exp(centers)
        out.append(sizes[np.argsort(sizes.prod(1))].astype(np.float32))
    return np.stack(out)


def prior_boxes(grid: list[tuple[int, int]], strides: list[int], priors: torch.Tensor) -> torch.Tensor:
    """``[P, 4]`` priors ``(cx, cy, w, h)`` in input pixels, ordered by level, row, column, then
    prior (the order of :meth:`ConvMultiBoxNet.raw`'s outputs). ``grid``: each level's map size
    ``(rows, cols)``; ``priors``: ``[L, k, 2]`` sizes."""
    out = []
    for (rows, cols), stride, wh in zip(grid, strides, priors, strict=True):
        ys = (torch.arange(rows, dtype=torch.float32, device=priors.device) + 0.5) * stride
        xs = (torch.arange(cols, dtype=torch.float32, device=priors.device) + 0.5) * stride
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        centres = torch.stack([cx, cy], -1).reshape(-1, 1, 2).expand(-1, len(wh), 2)
        sizes = wh.float().reshape(1, -1, 2).expand(rows * cols, -1, 2)
        out.append(torch.cat([centres, sizes], -1).reshape(-1, 4))
    return torch.cat(out)


def encode(boxes: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """``[N, 4]`` xyxy boxes -> offsets from ``[N, 4]`` priors ``(cx, cy, w, h)`` (module doc)."""
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-3)
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    return torch.cat([(c - priors[:, :2]) / (VARIANCES[0] * priors[:, 2:]),
                      torch.log(wh / priors[:, 2:]) / VARIANCES[1]], 1)  # fmt: skip


def decode(offsets: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`encode`: ``[..., P, 4]`` offsets -> xyxy boxes (input pixels)."""
    c = priors[:, :2] + offsets[..., :2] * VARIANCES[0] * priors[:, 2:]
    wh = priors[:, 2:] * torch.exp((offsets[..., 2:] * VARIANCES[1]).clamp(max=8.0))
    return torch.cat([c - wh / 2, c + wh / 2], -1)


def xyxy(priors: torch.Tensor) -> torch.Tensor:
    """``[P, 4]`` ``(cx, cy, w, h)`` -> xyxy."""
    return torch.cat([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], 1)


class ConvMultiBoxNet(nn.Module):
    """GoogLeNet trunk and, per level, a 3x3 convolution (256 channels, ReLU) then 1x1
    convolutions to ``4 k`` offsets and ``k`` confidences per cell.

    ``forward(x [N, 3, H, W], valid [N, 2] or None)`` -> ``(boxes [N, P, 4] xyxy normalized by
    each image's unpadded input size (w, h) in ``valid``; the whole input without it, logits [N, P])``.
    ``priors`` (a buffer, ``[L, k, 2]``) is what checkpoints keep under ``"priors"``.
    """

    def __init__(self, backbone: GoogLeNet, priors: torch.Tensor, levels: tuple[str, ...], width: int = 256):
        super().__init__()
        backbone.fc = nn.Identity()
        backbone.aux1 = backbone.aux2 = None
        backbone.aux_logits = False
        self.backbone, self.levels = backbone, tuple(levels)
        info = {f.name: f for f in backbone.feature_info}
        self.strides = [info[name].stride for name in self.levels]
        self.register_buffer("priors", torch.as_tensor(priors, dtype=torch.float32).clone())
        k = self.priors.shape[1]
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(info[name].channels, width, 3, padding=1), nn.ReLU(inplace=True))
            for name in self.levels
        )
        self.loc = nn.ModuleList(nn.Conv2d(width, 4 * k, 1) for _ in self.levels)
        self.conf = nn.ModuleList(nn.Conv2d(width, k, 1) for _ in self.levels)
        for loc, conf in zip(self.loc, self.conf, strict=True):
            nn.init.normal_(loc.weight, std=0.01)
            nn.init.zeros_(loc.bias)
            nn.init.normal_(conf.weight, std=0.01)
            nn.init.constant_(conf.bias, -4.0)  # few cells hold an object: start unsure

    @property
    def num_priors(self) -> int:
        return int(self.priors.shape[0] * self.priors.shape[1])

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(offsets [N, P, 4], logits [N, P], priors [P, 4] (cx, cy, w, h) input pixels)``."""
        feats = self.backbone.forward_features(x, self.levels)
        offsets, logits, grid = [], [], []
        for name, tower, loc, conf in zip(self.levels, self.towers, self.loc, self.conf, strict=True):
            f = tower(feats[name])
            n, _, h, w = f.shape
            grid.append((h, w))
            offsets.append(loc(f).permute(0, 2, 3, 1).reshape(n, -1, 4))
            logits.append(conf(f).permute(0, 2, 3, 1).reshape(n, -1))
        priors = prior_boxes(grid, self.strides, self.priors)
        return torch.cat(offsets, 1).float(), torch.cat(logits, 1).float(), priors

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None, raw: bool = False):
        """Decoded ``(boxes, logits)`` (class doc), or with ``raw`` :meth:`raw`'s outputs (the
        loss's; through ``forward`` so that DDP sees the call)."""
        if raw:
            return self.raw(x)
        offsets, logits, priors = self.raw(x)
        if valid is None:
            valid = x.new_tensor([[x.shape[3], x.shape[2]]], dtype=torch.float32).expand(len(x), 2)
        scale = valid.to(x.device, torch.float32).repeat(1, 2)[:, None, :]  # [N, 1, 4] (w, h, w, h)
        return decode(offsets, priors) / scale, logits


__all__ = ["ConvMultiBoxNet", "assign_levels", "decode", "encode", "level_bounds", "level_priors", "prior_boxes"]
