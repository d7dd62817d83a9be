"""Softmax averaged over crops and over models."""

import torch
from torch import nn

from detector.classify.evaluate import ensemble_probs


class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = w

    def forward(self, x):
        return x.mean((2, 3)) @ self.w  # [N, 3] -> [N, C]


def test_average_over_crops_then_models():
    g = torch.Generator().manual_seed(0)
    models = [_Linear(torch.randn(3, 4, generator=g)), _Linear(torch.randn(3, 4, generator=g))]
    x = torch.randn(5, 3, 2, 2, generator=g)  # image 0: crops 0-2, image 1: crops 3-4
    probs = ensemble_probs(models, x, [3, 2], channels_last=False)
    assert probs.shape == (2, 2, 4)
    for m, model in enumerate(models):
        p = model(x).softmax(1)
        torch.testing.assert_close(probs[m, 0], p[:3].mean(0))
        torch.testing.assert_close(probs[m, 1], p[3:].mean(0))
    torch.testing.assert_close(probs.mean(0).sum(1), torch.ones(2))
