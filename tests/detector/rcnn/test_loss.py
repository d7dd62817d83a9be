import math

import torch

from detector.rcnn.train import region_loss


def test_region_loss_matches_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g)
    deltas = torch.randn(6, 4, 4, generator=g)
    labels = torch.tensor([0, 2, 0, 3, 1, 0])
    targets = torch.randn(6, 4, generator=g)
    mask = torch.tensor([False, True, False, True, False, False])  # label 1 at row 4: IoU < reg_iou
    got = region_loss(logits, deltas, labels, targets, mask, reg_weight=2.0, normalizer=8)
    ce = sum(-math.log(torch.softmax(logits[i], 0)[labels[i]].item()) for i in range(6))
    l1 = 0.0
    for i in (1, 3):
        for d in (deltas[i, labels[i]] - targets[i]).abs().tolist():
            l1 += 0.5 * d * d if d < 1 else d - 0.5
    assert math.isclose(got.item(), (ce + 2.0 * l1) / 8, rel_tol=1e-5)
    no_reg = region_loss(logits, None, labels, targets, mask, reg_weight=2.0, normalizer=8)
    assert math.isclose(no_reg.item(), ce / 8, rel_tol=1e-5)
