"""MultiBox (Erhan et al. 2014): one network outputs K boxes, each a (4 coordinates + 1
confidence) slot tied to a prior box.

Frame: boxes are ``x1, y1, x2, y2`` normalized by the image width and height (``[0, 1]``), so
they do not depend on the network's input size. A slot predicts ``prior + delta``.

Training matches predictions to ground truth by bipartite assignment at every step (scipy's
``linear_sum_assignment``) minimizing the paper's objective
``F = alpha * 1/2 sum x_ij ||l_i - g_j||^2 - sum x_ij log c_i - sum (1 - sum_j x_ij) log(1 - c_i)``,
whose assignment cost for slot ``i`` and box ``j`` is ``alpha/2 ||l_i - g_j||^2 - logit_i``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment
from torch import nn
from torchvision.ops import batched_nms

from backbones import GoogLeNet


def kmeans_priors(boxes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``k`` prior boxes: k-means (k-means++ start) over ``[N, 4]`` normalized xyxy boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) < k:
        raise ValueError(f"{len(boxes)} training boxes are fewer than the {k} priors asked for")
    centers, _ = kmeans2(boxes, k, minit="++", seed=np.random.default_rng(seed))
    return np.clip(centers, 0, 1).astype(np.float32)


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

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.backbone.forward_features(x, ("inception_5b",))["inception_5b"].mean((2, 3))
        f = self.dropout(f)
        boxes = self.priors + self.loc(f).view(len(x), -1, 4).float()
        return boxes, self.conf(f).float()


def match(boxes: np.ndarray, logits: np.ndarray, gt: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Bipartite assignment of ``[K, 4]`` predictions (with ``[K]`` logits) to ``[G, 4]`` ground
    truth minimizing ``alpha/2 ||l_i - g_j||^2 - logit_i``; returns ``(slots, boxes)`` indices."""
    if not len(gt):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d2 = ((boxes[:, None, :] - gt[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(0.5 * alpha * d2 - logits[:, None])
    return rows, cols


def multibox_loss(
    boxes: torch.Tensor, logits: torch.Tensor, targets: list[torch.Tensor], alpha: float
) -> tuple[torch.Tensor, dict]:
    """``alpha * location + confidence``, averaged over images.

    Location: ``1/2 ||l_i - g_j||^2`` summed over matched slots; confidence: logistic loss with
    target 1 for matched slots, 0 for the others, summed over slots. ``targets``: per image
    ``[G, 4]`` normalized xyxy."""
    b_np, c_np = boxes.detach().cpu().numpy(), logits.detach().cpu().numpy()
    loc_total, conf_total = boxes.new_zeros(()), boxes.new_zeros(())
    for n, gt in enumerate(targets):
        rows, cols = match(b_np[n], c_np[n], gt.numpy(), alpha)
        label = torch.zeros_like(logits[n])
        if len(rows):
            r = torch.as_tensor(rows, device=boxes.device)
            g = gt.to(boxes.device)[torch.as_tensor(cols, device=boxes.device)]
            loc_total = loc_total + 0.5 * ((boxes[n, r] - g) ** 2).sum()
            label[r] = 1.0
        conf_total = conf_total + F.binary_cross_entropy_with_logits(logits[n], label, reduction="sum")
    n_img = max(len(targets), 1)
    loc, conf = loc_total / n_img, conf_total / n_img
    return alpha * loc + conf, {"loc": loc.detach(), "conf": conf.detach()}


@torch.no_grad()
def decode(
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
        b, s = b[keep], scores[n][keep]
        k = batched_nms(b, s, torch.zeros_like(s, dtype=torch.int64), nms_iou)[:top_k]
        out.append((b[k].float().cpu(), s[k].float().cpu()))
    return out
