"""Randomized inputs through the library: images of any size (1 to 2,000 px, any aspect) with
random or empty proposal sets through ``Detector`` (both modes), ``postprocess``,
``sample_regions`` and ``warp_regions``, and random box sets through every detection metric.
Nothing may raise; every output keeps its documented shape, frame and range. The case counts
are printed in pytest's summary."""

from pathlib import Path

import numpy as np
import pytest
import torch

from detector.api import Detector
from detector.data.records import AnnotationLog, DetectionDataset, ImageRecord
from detector.eval import evaluate_detections
from detector.rcnn.postprocess import PostprocessConfig, postprocess
from detector.rcnn.sampling import IGNORE, SamplingConfig, sample_regions
from detector.rcnn.warp import warp_regions
from tests.helpers import summary_lines, tiny_detector_checkpoint

SEED = 20261129


def _size(rng) -> tuple[int, int]:
    """``(height, width)``: a log-uniform side in [1, 2000] and any aspect, both clipped to [1, 2000]."""
    side = int(np.exp(rng.uniform(0, np.log(2000))))
    aspect = np.exp(rng.uniform(np.log(1 / 250), np.log(250)))
    h, w = int(np.clip(round(side * np.sqrt(aspect)), 1, 2000)), int(np.clip(round(side / np.sqrt(aspect)), 1, 2000))
    return h, w


def _boxes(rng, n: int, h: int, w: int, spill: float = 0.3) -> np.ndarray:
    """``[n, 4]`` xyxy boxes, some reaching outside the image, some degenerate or inverted."""
    x = rng.uniform(-spill * w, (1 + spill) * w, (n, 2))
    y = rng.uniform(-spill * h, (1 + spill) * h, (n, 2))
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1).astype(np.float32)


def _ordered(b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], 1)


def _proposals(rng, h: int, w: int) -> np.ndarray:
    """Empty, tiny, or a few dozen boxes; mostly well ordered, some not, some outside."""
    kind = rng.integers(4)
    if kind == 0:
        return np.zeros((0, 4), np.float32)
    n = int(rng.integers(1, 3 if kind == 1 else 40))
    b = _boxes(rng, n, h, w)
    return _ordered(b) if kind != 3 else b


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    root = tmp_path_factory.mktemp("random_det")
    out = {}
    for mode in ("rcnn", "fast"):
        path = tiny_detector_checkpoint(root / f"{mode}.pth", mode, classes=("a", "b", "c"))
        out[mode] = Detector.load(path, "cpu", score_thresh=0.0, max_dets=50)
    return out


@pytest.mark.slow
def test_detector_on_random_sizes_and_proposals(detectors, request):
    rng = np.random.default_rng(SEED)
    cases = 0
    for k in range(40):
        h, w = _size(rng)
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        props = _proposals(rng, h, w)
        det = detectors["rcnn" if k % 2 else "fast"]
        r = det(image, proposals=props)
        assert r.boxes.shape == (len(r), 4) and r.boxes.dtype == np.float32
        assert r.scores.shape == r.labels.shape == (len(r),) and len(r) <= 50
        assert ((r.labels >= 1) & (r.labels <= 3)).all() and ((r.scores >= 0) & (r.scores <= 1)).all()
        assert (r.boxes[:, :2] >= 0).all() and (r.boxes[:, 2] <= w).all() and (r.boxes[:, 3] <= h).all()
        assert (np.diff(r.scores) <= 1e-6).all()
        assert r.draw().shape == (h, w, 3) and len(r.to_coco(k)) == len(r)
        if not len(props):
            assert len(r) == 0 and r.num_proposals == 0
        cases += 1
    summary_lines(request.config).append(f"randomized: {cases} Detector calls (rcnn and fast, 1-2000 px)")


def test_postprocess_sampling_and_warping_on_random_sets(request):
    rng = np.random.default_rng(SEED + 1)
    n_post = n_sample = n_warp = 0
    for _ in range(300):
        h, w = _size(rng)
        k = int(rng.integers(1, 6))
        props = torch.from_numpy(_proposals(rng, h, w))
        n = len(props)
        probs = torch.from_numpy(rng.dirichlet(np.ones(k + 1), n).astype(np.float32)).reshape(n, k + 1)
        deltas = torch.from_numpy(rng.normal(0, 3, (n, k + 1, 4)).astype(np.float32)) if rng.random() < 0.7 else None
        cfg = PostprocessConfig(score_thresh=float(rng.uniform(0, 0.5)), max_dets=int(rng.integers(1, 30)))
        d = postprocess(probs, deltas, props, h, w, cfg)
        assert d.boxes.shape == (len(d), 4) and len(d) <= cfg.max_dets
        assert (d.scores > cfg.score_thresh).all() and ((d.labels >= 1) & (d.labels <= k)).all()
        assert torch.isfinite(d.boxes).all() and (d.boxes[:, :2] >= 0).all()
        assert (d.boxes[:, 2] <= w).all() and (d.boxes[:, 3] <= h).all()
        n_post += 1

        g = int(rng.integers(0, 5))
        gt = torch.from_numpy(_ordered(_boxes(rng, g, h, w, spill=0.0)))
        labels = torch.from_numpy(rng.integers(1, k + 1, g)).long()
        ignore = torch.from_numpy(rng.random(g) < 0.2)
        num = int(rng.integers(0, 64))
        regions = sample_regions(props, gt, labels, ignore, num, SamplingConfig(), np.random.default_rng(n_sample))
        r = len(regions.boxes)
        assert r <= num and regions.labels.shape == (r,) and regions.targets.shape == (r, 4)
        assert ((regions.labels >= 0) & (regions.labels <= k)).all() and not (regions.labels == IGNORE).any()
        assert torch.isfinite(regions.targets[regions.reg_mask]).all()
        n_sample += 1

        rois = torch.cat([torch.zeros(n, 1), props], 1)
        image = torch.randn(1, 3, h, w) if h * w <= 4_000_000 else torch.randn(1, 3, min(h, 64), min(w, 64))
        size = int(rng.choice([8, 16, 32]))
        crops = warp_regions(image, rois, size, float(rng.uniform(0, 4)), bool(rng.random() < 0.5))
        assert crops.shape == (n, 3, size, size) and torch.isfinite(crops).all()
        n_warp += 1
    summary_lines(request.config).append(
        f"randomized: {n_post} postprocess, {n_sample} sample_regions, {n_warp} warp_regions cases"
    )


def _random_dataset(rng, kind: str) -> DetectionDataset:
    classes = [f"c{i}" for i in range(int(rng.integers(1, 5)))]
    records = []
    for i in range(int(rng.integers(1, 6))):
        h, w = _size(rng)
        g = int(rng.integers(0, 5))
        boxes = _ordered(_boxes(rng, g, h, w, spill=0.0))
        boxes = boxes[((boxes[:, 2] - boxes[:, 0]) > 0.5) & ((boxes[:, 3] - boxes[:, 1]) > 0.5)]
        g = len(boxes)
        records.append(ImageRecord(i if kind == "coco" else f"im{i}", Path(f"im{i}.jpg"), w, h, boxes,
                                   rng.integers(1, len(classes) + 1, g).astype(np.int64), rng.random(g) < 0.1,
                                   np.zeros(g, bool)))  # fmt: skip
    cats = list(range(1, len(classes) + 1)) if kind == "coco" else classes
    return DetectionDataset("random", kind, records, classes, cats, AnnotationLog("random"))


def test_evaluation_on_random_box_sets(request):
    """AP is in [0, 1] for every class with ground truth and ``None`` (documented: left out of
    the mean) for a class without; mAP is in [0, 1], or NaN when no class has ground truth."""
    rng = np.random.default_rng(SEED + 2)
    cases = 0
    for _ in range(120):
        metric = str(rng.choice(["voc", "voc07", "ilsvrc", "coco"]))
        ds = _random_dataset(rng, "coco" if metric == "coco" else "voc")
        results = []
        for r in ds.records:
            n = int(rng.integers(0, 8))
            b = _ordered(_boxes(rng, n, r.height, r.width))
            for box in b:
                results.append({"image_id": r.image_id, "category_id": ds.category_ids[int(rng.integers(len(ds.class_names)))],
                                "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                                "score": float(rng.random())})  # fmt: skip
        report = evaluate_detections(ds, results, metric).report
        has_gt = {n for n, c in report["num_gt"].items() if c > 0}
        for name, ap in report["per_class"].items():
            if metric != "coco" and name not in has_gt:
                assert ap is None, (metric, name, ap)
            else:
                assert ap is None or 0.0 <= ap <= 1.0, (metric, name, ap)
        m = report["mAP"]
        assert (np.isnan(m) and not has_gt) or (0.0 <= m <= 1.0 and has_gt), (metric, m, has_gt)
        cases += 1
    summary_lines(request.config).append(f"randomized: {cases} random evaluations (voc, voc07, ilsvrc, coco)")
