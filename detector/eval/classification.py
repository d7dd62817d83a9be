"""Classification error: top-k from predicted scores (the ILSVRC ranking uses top-5)."""

from __future__ import annotations

import torch


def topk_error(scores: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Top-k error rates.

    Args:
        scores: ``[N, C]`` logits or probabilities (any monotone score).
        labels: ``[N]`` int64 true classes.
    Returns:
        ``{"top1_error": e1, "top5_error": e5, ...}`` as fractions in ``[0, 1]``; an image is
        correct at k when its label is among the k highest scores (ties: torch.topk's choice).
    """
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f"scores must be [N, C] and labels [N], got {list(scores.shape)} and {list(labels.shape)}")
    if len(labels) == 0:
        raise ValueError("no images to score")
    kmax = min(max(ks), scores.shape[1])
    top = scores.topk(kmax, dim=1).indices
    hits = top == labels[:, None]
    return {f"top{k}_error": 1.0 - hits[:, : min(k, kmax)].any(1).float().mean().item() for k in ks}
