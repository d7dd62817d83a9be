"""Training MultiBox: k-means priors, the bipartite matching of predictions to ground truth, and
the paper's objective (see :mod:`.multibox` for the frame); for the convolutional head
(:mod:`.multibox_conv`), the prior matching and hard-negative mining of 1412.1441 / SSD.

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
from torchvision.ops import box_iou

from .multibox_conv import encode, xyxy


def kmeans_priors(boxes: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``k`` prior boxes: k-means (k-means++ start) over ``[N, 4]`` normalized xyxy boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) < k:
        raise ValueError(f"{len(boxes)} training boxes are fewer than the {k} priors asked for")
    centers, _ = kmeans2(boxes, k, minit="++", seed=np.random.default_rng(seed))
    return np.clip(centers, 0, 1).astype(np.float32)


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


IGNORE = -2  # a prior between the thresholds: neither object nor background
BACKGROUND = -1


def match_priors(priors: torch.Tensor, gt: torch.Tensor, pos_iou: float = 0.5, neg_iou: float = 0.4) -> torch.Tensor:
    """The convolutional head's matching (1412.1441, SSD): ``[P]`` index of the ground-truth box
    each prior predicts, :data:`BACKGROUND` or :data:`IGNORE`. A prior whose best IoU with the
    ``[G, 4]`` boxes reaches ``pos_iou`` takes that box; below ``neg_iou`` it is background; and
    each box takes its best prior whatever the IoU (no object is left without one). ``priors``:
    ``[P, 4]`` xyxy, same frame as ``gt``."""
    label = torch.full((len(priors),), BACKGROUND, dtype=torch.int64, device=priors.device)
    if not len(gt):
        return label
    iou = box_iou(gt, priors)  # [G, P]
    best_iou, best_gt = iou.max(0)
    label[best_iou >= pos_iou] = best_gt[best_iou >= pos_iou]
    label[(best_iou >= neg_iou) & (best_iou < pos_iou)] = IGNORE
    label[iou.argmax(1)] = torch.arange(len(gt), device=priors.device)
    return label


def conv_multibox_loss(
    offsets: torch.Tensor, logits: torch.Tensor, priors: torch.Tensor, targets: list[torch.Tensor],
    valid: torch.Tensor, alpha: float = 1.0, pos_iou: float = 0.5, neg_ratio: float = 3.0,
) -> tuple[torch.Tensor, dict]:  # fmt: skip
    """The convolutional head's objective, SSD's: smooth-L1 on the encoded offsets of matched
    priors plus the logistic loss of their confidences and of the ``neg_ratio`` times as many
    hardest background priors (hard-negative mining), both divided by the matched priors' count.

    ``offsets`` ``[N, P, 4]``, ``logits`` ``[N, P]``, ``priors`` ``[P, 4]`` ``(cx, cy, w, h)``
    input pixels; ``targets`` per image ``[G, 4]`` normalized xyxy; ``valid`` ``[N, 2]`` each
    image's unpadded input ``(w, h)``."""
    corners = xyxy(priors)
    loc_total, conf_total, n_pos = offsets.new_zeros(()), offsets.new_zeros(()), 0
    for n, gt in enumerate(targets):
        gt_px = gt.to(offsets.device) * valid[n].to(offsets.device).float().repeat(2)
        label = match_priors(corners, gt_px, pos_iou, pos_iou - 0.1)
        pos = label >= 0
        n_pos += int(pos.sum())
        if pos.any():
            want = encode(gt_px[label[pos]], priors[pos])
            loc_total = loc_total + F.smooth_l1_loss(offsets[n, pos], want, reduction="sum", beta=1.0)
        per_prior = F.binary_cross_entropy_with_logits(logits[n], pos.float(), reduction="none")
        neg = per_prior.detach().masked_fill(label != BACKGROUND, -1.0)
        k = min(int(neg_ratio * max(int(pos.sum()), 1)), int((label == BACKGROUND).sum()))
        hard = neg.topk(k).indices if k else neg.new_zeros(0, dtype=torch.int64)
        conf_total = conf_total + per_prior[pos].sum() + per_prior[hard].sum()
    norm = max(n_pos, 1)
    loc, conf = loc_total / norm, conf_total / norm
    return alpha * loc + conf, {"loc": loc.detach(), "conf": conf.detach(), "positives": n_pos}
