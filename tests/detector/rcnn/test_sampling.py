import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from detector.rcnn.boxes import decode_boxes
from detector.rcnn.sampling import IGNORE, SamplingConfig, label_proposals, sample_regions


def _scene():
    gt = torch.tensor([[10.0, 10.0, 60.0, 60.0], [100.0, 20.0, 150.0, 90.0]])
    labels = torch.tensor([3, 7])
    g = torch.Generator().manual_seed(1)
    jitter = torch.randn(200, 4, generator=g) * 6
    near = torch.cat([gt[0] + jitter[:100], gt[1] + jitter[100:]])
    xy = torch.rand(300, 2, generator=g) * 200
    far = torch.cat([xy, xy + 5 + torch.rand(300, 2, generator=g) * 60], 1)
    return gt, labels, torch.cat([near, far])


def test_labels_follow_iou_rule():
    gt, labels, props = _scene()
    cfg = SamplingConfig()
    lab, matched, best = label_proposals(props, gt, labels, torch.zeros(2, dtype=torch.bool), cfg)
    iou = box_iou(props, gt)
    ref_best, ref_idx = iou.max(1)
    expected = torch.where(ref_best >= 0.5, labels[ref_idx], torch.zeros_like(ref_idx))
    assert torch.equal(lab, expected)
    assert torch.allclose(best, ref_best)
    assert torch.equal(matched[lab > 0], ref_idx[lab > 0]) and (matched[lab == 0] == -1).all()


def test_ignored_boxes_neither_positive_nor_background():
    gt, labels, props = _scene()
    ignore = torch.tensor([True, False])
    lab, _, _ = label_proposals(props, gt, labels, ignore, SamplingConfig())
    iou = box_iou(props, gt)
    on_ignored = (iou[:, 0] >= 0.5) & (iou[:, 1] < 0.5)
    assert (lab[on_ignored] == IGNORE).all() and on_ignored.sum() > 20
    assert not (lab == 3).any()


def test_sample_exact_counts_and_determinism():
    gt, labels, props = _scene()
    cfg = SamplingConfig(positive_fraction=0.25)
    none = torch.zeros(2, dtype=torch.bool)
    a = sample_regions(props, gt, labels, none, 64, cfg, np.random.default_rng(5))
    b = sample_regions(props, gt, labels, none, 64, cfg, np.random.default_rng(5))
    assert len(a.labels) == 64 and (a.labels > 0).sum() == 16 and (a.labels == 0).sum() == 48
    assert torch.equal(a.boxes, b.boxes) and torch.equal(a.labels, b.labels)
    c = sample_regions(props, gt, labels, none, 64, cfg, np.random.default_rng(6))
    assert not torch.equal(a.boxes, c.boxes)
    # regression targets: exactly the positives with IoU >= 0.6, and they decode to their box
    iou = box_iou(a.boxes, gt).max(1)
    assert torch.equal(a.reg_mask, (a.labels > 0) & (iou.values >= 0.6))
    back = decode_boxes(a.boxes[a.reg_mask], a.targets[a.reg_mask])
    assert torch.allclose(back, gt[iou.indices[a.reg_mask]], atol=1e-3)
    assert (a.targets[~a.reg_mask] == 0).all()


def test_few_positives_fill_with_background_and_gt_included():
    gt = torch.tensor([[10.0, 10.0, 60.0, 60.0]])
    props = torch.tensor([[100.0, 100.0, 150.0, 150.0], [0.0, 0.0, 5.0, 5.0], [70.0, 0.0, 90.0, 40.0]])
    none = torch.zeros(1, dtype=torch.bool)
    r = sample_regions(props, gt, torch.tensor([2]), none, 8, SamplingConfig(), np.random.default_rng(0))
    assert (r.labels == 2).sum() == 1 and (r.labels == 0).sum() == 3  # the gt box itself, 3 background
    r = sample_regions(
        props, gt, torch.tensor([2]), none, 8, SamplingConfig(include_gt=False), np.random.default_rng(0)
    )
    assert (r.labels > 0).sum() == 0 and len(r.labels) == 3


def test_image_without_objects_gives_background_only():
    _, _, props = _scene()
    r = sample_regions(
        props, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.bool), 32,
        SamplingConfig(), np.random.default_rng(0),
    )  # fmt: skip
    assert len(r.labels) == 32 and (r.labels == 0).all() and not r.reg_mask.any()


@pytest.mark.parametrize("low", [0.1, 0.3])
def test_background_low_threshold(low):
    gt, labels, props = _scene()
    lab, _, best = label_proposals(props, gt, labels, torch.zeros(2, dtype=torch.bool), SamplingConfig(bg_iou_low=low))
    assert torch.equal(lab == 0, (best < 0.5) & (best >= low))


@pytest.mark.slow
def test_class_balance_gives_each_class_the_same_chance_per_draw():
    """balance: class weights a positive by 1 / its class's count: a class with 1/10 of the
    windows wins the first draw half the time (uniform: its share of the windows)."""
    gt, labels, props = _scene()
    props = torch.cat([props[:100], props[100:112], props[200:]])  # many windows of class 3, few of 7
    none = torch.zeros(2, dtype=torch.bool)
    base = SamplingConfig(include_gt=False, positive_fraction=1 / 64)  # one positive in 64
    lab = label_proposals(props, gt, labels, none, base)[0]
    n3, n7 = int((lab == 3).sum()), int((lab == 7).sum())
    assert n3 > 5 * n7 > 0
    for balance, expected in (("none", n7 / (n3 + n7)), ("class", 0.5)):
        cfg = SamplingConfig(include_gt=False, positive_fraction=1 / 64, balance=balance)
        got = [sample_regions(props, gt, labels, none, 64, cfg, np.random.default_rng(s)).labels for s in range(2000)]
        assert all(int((g > 0).sum()) == 1 and int((g == 0).sum()) == 63 for g in got)
        assert np.mean([int((g == 7).sum()) for g in got]) == pytest.approx(expected, abs=0.035)
    # 16 positives: the rare class's count matches sequential weighted draws without replacement
    # (each draw picks a remaining window with probability ~ its weight), simulated by hand
    cfg = SamplingConfig(include_gt=False, positive_fraction=0.25, balance="class")
    got = [sample_regions(props, gt, labels, none, 64, cfg, np.random.default_rng(s)).labels for s in range(300)]
    rng, ref = np.random.default_rng(99), []
    for _ in range(3000):
        left3, left7 = n3, n7
        for _ in range(16):
            w3, w7 = left3 / n3, left7 / n7
            take7 = rng.random() < w7 / (w3 + w7)
            left7, left3 = left7 - take7, left3 - (not take7)
        ref.append(n7 - left7)
    assert np.mean([int((g == 7).sum()) for g in got]) == pytest.approx(np.mean(ref), abs=0.25)
    assert np.mean(ref) > 3 * 16 * n7 / (n3 + n7)  # far above the uniform draw's share
    cfg = SamplingConfig(include_gt=False, positive_fraction=1.0, balance="class")
    r = sample_regions(props, gt, labels, none, 512, cfg, np.random.default_rng(0))
    assert int((r.labels == 3).sum()) == n3 and int((r.labels == 7).sum()) == n7


def test_step_sampling_draws_rcnn_32_of_128_uniformly_over_the_step():
    """R-CNN's way: 32 positives uniformly from all the step's positive windows, 96 background
    from all its background windows; an image with 10x the positives gives ~10x of them."""
    from detector.rcnn.sampling import label_regions, sample_step

    gt, labels, props = _scene()  # 2 objects, ~200 positives and ~300 background windows
    none = torch.zeros(2, dtype=torch.bool)
    cfg = SamplingConfig(positive_fraction=0.25, include_gt=False)
    rich = label_regions(props, gt, labels, none, cfg)
    poor = label_regions(props[180:], gt, labels, none, cfg)  # the second object's near windows only in part
    n_pos = [int((r.labels > 0).sum()) for r in (rich, poor)]
    n_neg = [int((r.labels == 0).sum()) for r in (rich, poor)]
    assert n_pos[0] > 5 * n_pos[1] > 0
    share = []
    for seed in range(200):
        a, b = sample_step([rich, poor], 128, cfg, np.random.default_rng(seed))
        pos = [int((r.labels > 0).sum()) for r in (a, b)]
        assert sum(pos) == 32 and len(a.labels) + len(b.labels) == 128
        for got, src in ((a, rich), (b, poor)):  # rows of the image's own labelled regions, in order
            rows = (got.boxes[:, None] == src.boxes[None]).all(-1).float().argmax(1)
            assert torch.equal(src.boxes[rows], got.boxes) and (rows.diff() > 0).all()
            assert torch.equal(src.labels[rows], got.labels) and torch.equal(src.targets[rows], got.targets)
        share.append(pos[0] / 32)
    # uniform over the union: E[share of the rich image] = its share of all positive windows
    assert np.mean(share) == pytest.approx(n_pos[0] / sum(n_pos), abs=0.02)
    a, b = sample_step([rich, poor], 128, cfg, np.random.default_rng(0))
    assert int((a.labels == 0).sum()) + int((b.labels == 0).sum()) == 96 and min(n_neg) > 0


def test_step_sampling_in_the_training_data_is_reproducible_and_counts_per_readable_image(tmp_path):
    """collate_regions(step=...) draws regions-per-image x readable images, seeded by the items."""
    from detector.rcnn.data import collate_regions
    from detector.rcnn.sampling import label_regions

    gt, labels, props = _scene()
    none = torch.zeros(2, dtype=torch.bool)
    cfg = SamplingConfig(per="step")
    image = torch.zeros(3, 200, 200)

    def item(seed):
        r = label_regions(props, gt, labels, none, cfg)
        r.seed = seed
        return image, r, f"im{seed}.jpg"

    one = collate_regions([item(1), item(2)], step=(64, cfg))
    two = collate_regions([item(1), item(2)], step=(64, cfg))
    other = collate_regions([item(1), item(3)], step=(64, cfg))
    assert len(one.rois) == 128 and int((one.labels > 0).sum()) == 32
    assert torch.equal(one.rois, two.rois) and not torch.equal(one.rois, other.rois)
    skipped = collate_regions([item(1), (None, None, "bad.jpg")], step=(64, cfg))
    assert len(skipped.rois) == 64 and skipped.skipped == ["bad.jpg"] and (skipped.rois[:, 0] == 0).all()
