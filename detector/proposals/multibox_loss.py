"""Training MultiBox: k-means priors, the bipartite matching of predictions to ground truth, and
the paper's objective (see :mod:`.multibox` for the frame).

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
