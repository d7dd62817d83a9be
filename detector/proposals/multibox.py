"""MultiBox (Erhan et al. 2014): one network outputs K boxes, each a (4 coordinates + 1
confidence) slot tied to a prior box. ``head: conv`` is the later convolutional head
(:mod:`.multibox_conv`: priors at every cell of several maps); both return the same frame.

Frame: boxes are ``x1, y1, x2, y2`` normalized by the image width and height (``[0, 1]``), so
they do not depend on the network's input size. A slot predicts ``prior + delta``.

This module is what inference needs (config, network, decoding, loading a checkpoint); training
is in :mod:`.multibox_loss` (priors, matching, the objective), :mod:`.multibox_data` and
:mod:`.multibox_train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torchvision.ops import nms

from backbones import GoogLeNet, for_inference, load_weights

from ..backbone import ModelConfig, build_backbone
from ..checkpoint import load_checkpoint
from ..config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Probability, config_from_dict
from ..engine.optim import OptimConfig
from ..engine.run_config import RunConfig
from ..errors import UserError
from .multibox_conv import ConvMultiBoxNet


@dataclass
class MultiBoxDataConfig:
    input_size: PositiveInt = 224  # global head: images warped to input_size^2; conv: the shorter side
    max_size: PositiveInt = 1000  # conv head: the longer side at most (the aspect ratio is kept)
    workers: NonNegInt = 4
    hflip: Probability = 0.5
    photometric: Probability = 0.5


@dataclass
class MultiBoxConfig(RunConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig(variant="bn", aux_logits=False))
    head: Literal["global", "conv"] = "global"  # the paper's pooled head, or 1412.1441's convolutional one
    num_priors: PositiveInt = 200  # global: K slots (the public model used 800)
    levels: tuple[str, ...] = ("inception_3b", "inception_4e", "inception_5b")  # conv: the maps it predicts from
    priors_per_level: PositiveInt = 3  # conv: prior sizes per cell of each level (k-means per level)
    match_iou: Probability = 0.5  # conv: a prior whose IoU with a box reaches this predicts it
    neg_ratio: PositiveFloat = 3.0  # conv: hardest background priors in the loss per matched one
    alpha: NonNegFloat = 0.3  # weight of the location loss
    top_k: PositiveInt = 200  # proposals kept per image at inference
    nms_iou: Probability = 0.7
    data: MultiBoxDataConfig = field(default_factory=MultiBoxDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    init: str | None = None  # a train_cls checkpoint (classifier layers skipped)


class MultiBoxNet(nn.Module):
    """GoogLeNet trunk, global average pool, then ``K * 4`` location and ``K`` confidence outputs.

    ``forward(x [N, 3, S, S])`` -> ``(boxes [N, K, 4] normalized xyxy, logits [N, K])``.
    """

    def __init__(self, backbone: GoogLeNet, priors: torch.Tensor, dropout: float = 0.2):
        super().__init__()
        backbone.fc = nn.Identity()  # the classifier is replaced by the MultiBox head
        backbone.aux1 = backbone.aux2 = None
        backbone.aux_logits = False
        self.backbone = backbone
        self.register_buffer("priors", torch.as_tensor(priors, dtype=torch.float32).clone())
        k = len(priors)
        self.dropout = nn.Dropout(dropout)
        self.loc = nn.Linear(1024, 4 * k)
        self.conf = nn.Linear(1024, k)
        nn.init.zeros_(self.loc.weight)  # start at the priors
        nn.init.zeros_(self.loc.bias)
        nn.init.normal_(self.conf.weight, std=0.01)
        nn.init.constant_(self.conf.bias, -2.0)

    @property
    def num_priors(self) -> int:
        return len(self.priors)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``valid`` is ignored: the global head sees the whole (warped) image."""
        f = self.backbone.forward_features(x, ("inception_5b",))["inception_5b"].mean((2, 3))
        f = self.dropout(f)
        boxes = self.priors + self.loc(f).view(len(x), -1, 4).float()
        return boxes, self.conf(f).float()


@torch.no_grad()
def decode_multibox(
    boxes: torch.Tensor,
    logits: torch.Tensor,
    sizes: list[tuple[int, int]],
    top_k: int = 200,
    nms_iou: float = 0.7,
    min_size: float = 2.0,
):
    """Proposals per image: ``[(boxes [M, 4] float32 xyxy pixels, scores [M])]``, at most
    ``top_k`` by confidence after NMS at ``nms_iou``. ``sizes``: ``(width, height)`` each."""
    out = []
    scores = logits.sigmoid()
    for n, (w, h) in enumerate(sizes):
        b = boxes[n].clamp(0, 1) * boxes.new_tensor([w, h, w, h])
        b = torch.stack(
            [
                torch.minimum(b[:, 0], b[:, 2]),
                torch.minimum(b[:, 1], b[:, 3]),
                torch.maximum(b[:, 0], b[:, 2]),
                torch.maximum(b[:, 1], b[:, 3]),
            ],
            1,
        )
        keep = ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
        b, s = _nms_top_k(b[keep], scores[n][keep], top_k, nms_iou)
        out.append((b.float().cpu(), s.float().cpu()))
    return out


def _nms_top_k(boxes: torch.Tensor, scores: torch.Tensor, top_k: int, iou: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``top_k`` boxes greedy NMS keeps, as NMS over all ``[M, 4]`` boxes would keep them,
    computed on the most confident few: greedy NMS decides each box from the boxes above it alone,
    so NMS over the top ``n`` keeps the same first boxes as over all; ``n`` starts at ``10 top_k``
    and doubles until ``top_k`` survive or every box took part (NMS over the ~9,000 priors of a
    640x480 photo costs ~0.08 s; over the top 3,000, 5 ms)."""
    n = max(10 * top_k, 1000)
    while True:
        first = scores.topk(min(n, len(scores))).indices  # descending, as NMS visits them
        k = nms(boxes[first], scores[first], iou)[:top_k]
        if len(k) == top_k or n >= len(scores):
            return boxes[first[k]], scores[first[k]]
        n *= 2


def build_multibox(cfg: MultiBoxConfig, priors: np.ndarray | torch.Tensor) -> MultiBoxNet | ConvMultiBoxNet:
    """The network of ``cfg.head``: ``priors`` are ``[K, 4]`` normalized boxes (global) or
    ``[L, k, 2]`` sizes per level (conv)."""
    backbone = build_backbone(cfg.model)
    if cfg.init:
        load_weights(backbone, cfg.init, ignore_head=True, bvlc_mean=cfg.model.bvlc_mean)
    if cfg.head == "conv":
        info = {f.name for f in backbone.feature_info}
        unknown = [name for name in cfg.levels if name not in info]
        if unknown or not cfg.levels:
            raise UserError(f"levels: {unknown or '()'} are not GoogLeNet maps (known: {', '.join(sorted(info))})")
        return ConvMultiBoxNet(backbone, torch.as_tensor(priors), cfg.levels)
    return MultiBoxNet(backbone, torch.as_tensor(priors))


def load_multibox(path: str | Path, device: torch.device) -> tuple[MultiBoxNet, MultiBoxConfig]:
    """A trained MultiBox network (eval mode) and its config from ``final.pth``/``last.pth``."""
    obj = load_checkpoint(path, "MultiBox checkpoint", needs=("priors",), hint="train one with tools/train_multibox.py")
    cfg = config_from_dict(MultiBoxConfig, obj["config"], f"{path} (config)")
    cfg.init = None
    model = build_multibox(cfg, obj["priors"])
    try:
        model.load_state_dict(obj["model"])
    except RuntimeError as e:
        raise UserError(f"{path}: weights do not fit the config stored with them ({str(e).splitlines()[0]})") from None
    model.backbone = for_inference(model.backbone)  # BN folded, 1x1s merged, channels_last
    return model.to(device).eval(), cfg
