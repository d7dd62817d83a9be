"""Scoring classifiers on an ImageFolder split: top-k counts, sharded across processes."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..engine.distributed import DistContext, all_reduce_sum


@torch.inference_mode()
def topk_counts(model: nn.Module, loader: DataLoader, ctx: DistContext, channels_last: bool = True) -> dict[str, float]:
    """Top-1/top-5 accuracy of ``model`` (eval mode) over every process's shard of ``loader``.

    Returns ``{"top1", "top5", "images", "skipped"}``; accuracies are fractions."""
    was = model.training
    model.eval()
    counts = torch.zeros(4, dtype=torch.float64)  # top1, top5, images, skipped
    mf = torch.channels_last if channels_last else torch.contiguous_format
    for batch in loader:
        counts[3] += len(batch.skipped)
        if not len(batch.labels):
            continue
        logits = model(batch.images.to(ctx.device, memory_format=mf)).float().cpu()
        top = logits.topk(min(5, logits.shape[1]), 1).indices
        hit = top == batch.labels[:, None]
        counts[0] += hit[:, :1].any(1).sum()
        counts[1] += hit.any(1).sum()
        counts[2] += len(batch.labels)
    model.train(was)
    counts = all_reduce_sum(counts.to(ctx.device), ctx).cpu()
    n = max(counts[2].item(), 1)
    return {
        "top1": counts[0].item() / n,
        "top5": counts[1].item() / n,
        "images": int(counts[2]),
        "skipped": int(counts[3]),
    }


def ensemble_probs(
    models: list[nn.Module], crops_batch: torch.Tensor, counts: list[int], channels_last: bool = True
) -> torch.Tensor:
    """Softmax averaged over each image's crops, per model.

    Args:
        models: eval-mode classifiers with the same classes.
        crops_batch: ``[sum(counts), 3, S, S]`` crops of several images, image by image.
        counts: crops per image.
    Returns:
        ``[M, N, C]``: model ``m``'s crop-averaged probabilities for image ``n``; the ensemble is
        the mean over ``M`` (the paper averages softmax over crops and over models).
    """
    mf = torch.channels_last if channels_last else torch.contiguous_format
    x = crops_batch.contiguous(memory_format=mf)
    index = torch.repeat_interleave(torch.arange(len(counts), device=x.device), torch.tensor(counts, device=x.device))
    out = []
    with torch.inference_mode():
        for m in models:
            p = m(x).float().softmax(1)
            summed = torch.zeros(len(counts), p.shape[1], device=p.device).index_add_(0, index, p)
            out.append(summed / torch.tensor(counts, device=p.device, dtype=p.dtype)[:, None])
    return torch.stack(out)
