import dataclasses

import torch
from torchvision.ops import box_iou

from detector.rcnn.boxes import encode_boxes
from detector.rcnn.postprocess import PostprocessConfig, postprocess


def test_decodes_thresholds_and_suppresses_per_class():
    proposals = torch.tensor([[10.0, 10.0, 50.0, 50.0], [12.0, 12.0, 52.0, 52.0], [100.0, 100.0, 140.0, 150.0]])
    probs = torch.tensor([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.5, 0.05, 0.45]])
    target = torch.tensor([[100.0, 100.0, 150.0, 150.0]])
    deltas = torch.zeros(3, 3, 4)
    deltas[2, 2] = encode_boxes(proposals[2:], target)[0]
    d = postprocess(probs, deltas, proposals, 200, 200, PostprocessConfig(score_thresh=0.08, nms_iou=0.3, max_dets=10))
    # boxes 0 and 1 overlap (IoU 0.82): per class only the better survives; 1 (0.7) and 2 (0.05) are
    # gone, box 2 of class 2 (0.45) is kept and regressed onto its target
    assert d.labels.tolist() == [1, 2, 2]
    assert torch.allclose(d.scores, torch.tensor([0.8, 0.45, 0.1]))
    assert torch.allclose(d.boxes[1], target[0], atol=1e-3)  # class 2 regression applied
    assert torch.allclose(d.boxes[0], proposals[0])
    assert (d.scores[:-1] >= d.scores[1:]).all()


def test_same_class_overlap_is_suppressed_other_class_is_not():
    proposals = torch.tensor([[0.0, 0.0, 40.0, 40.0], [2.0, 2.0, 42.0, 42.0]])
    probs = torch.tensor([[0.0, 0.9, 0.1], [0.0, 0.3, 0.7]])
    d = postprocess(probs, None, proposals, 100, 100, PostprocessConfig(score_thresh=0.2, nms_iou=0.3))
    assert d.labels.tolist() == [1, 2] and torch.allclose(d.scores, torch.tensor([0.9, 0.7]))


def test_shapes_clipping_and_max_dets():
    g = torch.Generator().manual_seed(0)
    n, k = 300, 20
    xy = torch.rand(n, 2, generator=g) * 300
    proposals = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 200], 1)
    probs = torch.rand(n, k + 1, generator=g).softmax(1)
    deltas = torch.randn(n, k + 1, 4, generator=g)
    cfg = PostprocessConfig(score_thresh=0.0, nms_iou=0.3, max_dets=50)
    d = postprocess(probs, deltas, proposals, 240, 320, cfg)
    assert d.boxes.shape == (50, 4) and d.scores.shape == (50,) and d.labels.shape == (50,)
    assert d.labels.min() >= 1 and d.labels.max() <= k
    assert (d.boxes[:, [0, 2]] <= 320).all() and (d.boxes[:, [1, 3]] <= 240).all() and (d.boxes >= 0).all()
    for c in d.labels.unique():
        b = d.boxes[d.labels == c]
        iou = box_iou(b, b).fill_diagonal_(0)
        assert (iou <= 0.3 + 1e-6).all()
    empty = postprocess(probs[:0], deltas[:0], proposals[:0], 240, 320, cfg)
    assert empty.boxes.shape == (0, 4) and len(empty) == 0


def test_box_voting_by_hand():
    # two class-1 regions overlapping at IoU 100/120 and a class-2 region on the first; no regression
    proposals = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 12.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    probs = torch.tensor([[0.1, 0.9, 0.0], [0.4, 0.6, 0.0], [0.3, 0.0, 0.7]])
    cfg = PostprocessConfig(score_thresh=0.05, nms_iou=0.3)
    plain = postprocess(probs, None, proposals, 20, 20, cfg)
    voted = postprocess(probs, None, proposals, 20, 20, dataclasses.replace(cfg, box_voting=True))
    assert torch.equal(plain.scores, voted.scores) and torch.equal(plain.labels, voted.labels)
    assert plain.labels.tolist() == [1, 2]
    # class 1: (0.9 * 10 + 0.6 * 12) / 1.5 = 10.8 wide; class 2 votes alone (the class-1 boxes do not count)
    torch.testing.assert_close(voted.boxes, torch.tensor([[0.0, 0.0, 10.8, 10.0], [0.0, 0.0, 10.0, 10.0]]))
    strict = postprocess(probs, None, proposals, 20, 20, dataclasses.replace(cfg, box_voting=True, vote_iou=0.9))
    assert torch.equal(strict.boxes, plain.boxes)  # 0.83 < 0.9: each box votes alone
