"""``tools/benchmark.py eval``: seconds per metric on generated data, and pycocotools directly.

5,000 images, 20 classes, 100 detections per image (jittered ground truth plus clutter),
generated here with a fixed seed; the ground truth is written as a COCO JSON file so that every
metric, and pycocotools itself, scores exactly the same data.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..data import load_coco
from ..eval import evaluate_detections
from ..files import write_json


def generate(n_images: int, n_classes: int, dets_per_image: int, seed: int = 0) -> tuple[dict, list[dict]]:
    """A COCO ground-truth dict and a results list (``dets_per_image`` per image)."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "file_name": f"{i + 1:06d}.jpg", "width": 640, "height": 480} for i in range(n_images)]
    n_gt = rng.integers(1, 8, n_images)
    img_of_gt = np.repeat(np.arange(1, n_images + 1), n_gt)
    total = len(img_of_gt)
    wh = rng.uniform(8, 300, (total, 2))
    xy = rng.uniform(0, 1, (total, 2)) * (np.array([640, 480]) - wh)
    gt_cls = rng.integers(1, n_classes + 1, total)
    anns = [
        {
            "id": k + 1,
            "image_id": int(img_of_gt[k]),
            "category_id": int(gt_cls[k]),
            "bbox": [*xy[k], *wh[k]],
            "area": float(wh[k].prod()),
            "iscrowd": 0,
        }
        for k in range(total)
    ]
    # detections: up to 2 jittered copies of each ground truth, the rest clutter, 100 per image
    starts = np.concatenate([[0], np.cumsum(n_gt)[:-1]])
    dets = []
    for i in range(n_images):
        g = np.arange(starts[i], starts[i] + n_gt[i])
        src = np.repeat(g, 2)[:dets_per_image]
        jitter = rng.normal(0, 0.08, (len(src), 4)) * np.concatenate([wh[src], wh[src]], 1)
        boxes = np.concatenate([xy[src], wh[src]], 1) + jitter
        cls = gt_cls[src]
        n_clutter = dets_per_image - len(src)
        cw = rng.uniform(8, 200, (n_clutter, 2))
        clutter = np.concatenate([rng.uniform(0, 1, (n_clutter, 2)) * (np.array([640, 480]) - cw), cw], 1)
        boxes = np.concatenate([boxes, clutter])
        cls = np.concatenate([cls, rng.integers(1, n_classes + 1, n_clutter)])
        scores = np.concatenate([rng.uniform(0.3, 1.0, len(src)), rng.uniform(0.0, 0.7, n_clutter)])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
        dets += [
            {"image_id": i + 1, "category_id": int(c), "bbox": b, "score": float(s)}
            for c, b, s in zip(cls.tolist(), boxes.tolist(), scores.tolist(), strict=True)
        ]
    cats = [{"id": c, "name": f"class{c:02d}"} for c in range(1, n_classes + 1)]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def _pycocotools(ann_file: Path, dets: list[dict]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def run(images: int = 5000, classes: int = 20, dets_per_image: int = 100, **_: object) -> dict:
    gt, dets = generate(images, classes, dets_per_image)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = Path(tmp) / "instances_bench.json"
        write_json(ann_file, gt, indent=None, durable=False)
        dataset = load_coco(ann_file)
        for metric in ("voc07", "voc", "ilsvrc", "coco"):
            t0 = time.perf_counter()
            rep = evaluate_detections(dataset, dets, metric).report
            rows.append({"metric": metric, "seconds": time.perf_counter() - t0, "mAP": rep["mAP"]})
        t0 = time.perf_counter()
        ap = _pycocotools(ann_file, dets)
        rows.append({"metric": "pycocotools COCOeval (direct)", "seconds": time.perf_counter() - t0, "mAP": ap})
    return {
        "benchmark": "eval",
        "images": images,
        "classes": classes,
        "detections": len(dets),
        "ground_truth": len(gt["annotations"]),
        "rows": rows,
    }


def format_table(res: dict) -> str:
    lines = [
        f"eval benchmark: {res['images']} images, {res['classes']} classes, {res['detections']} detections, "
        f"{res['ground_truth']} ground-truth boxes",
        f"{'metric':<32}{'seconds':>9}{'mAP':>9}",
    ]
    lines += [f"{r['metric']:<32}{r['seconds']:>9.2f}{r['mAP']:>9.4f}" for r in res["rows"]]
    return "\n".join(lines)
