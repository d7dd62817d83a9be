"""COCO mAP with pycocotools' COCOeval, on a COCO JSON file or on any loaded dataset."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..data.records import DetectionDataset
from .results import DetectionArrays, arrays_to_results

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_from_dataset(dataset: DetectionDataset) -> COCO:
    """An in-memory COCO ground truth of an XML dataset: image ids ``1..N`` in record order,
    category ids = labels; difficult boxes become ``iscrowd`` (COCOeval's only ignore flag)."""
    images, anns = [], []
    for i, r in enumerate(dataset.records):
        images.append({"id": i + 1, "width": r.width, "height": r.height, "file_name": r.file.name})
        wh = r.boxes[:, 2:] - r.boxes[:, :2]
        for b, s, lab, crowd in zip(
            r.boxes.tolist(), wh.tolist(), r.labels.tolist(), (r.difficult | r.iscrowd).tolist(), strict=True
        ):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": lab,
                    "bbox": [b[0], b[1], s[0], s[1]],
                    "area": s[0] * s[1],
                    "iscrowd": int(crowd),
                }
            )
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(dataset.class_names)]
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": cats}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def _usable(ann: dict) -> bool:
    """A ground-truth box COCOeval can match: four finite numbers with a positive width and height
    (the loader drops the others with a warning; here they would be objects nothing finds)."""
    b = ann.get("bbox")
    ok = isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in b)
    return ok and b[2] > 0 and b[3] > 0


def _fill_defaults(gt: COCO) -> None:
    """Drop ground-truth annotations without a usable box (:func:`_usable`), and give those without
    ``area`` (``w * h`` of their box) or ``iscrowd`` (0) those fields, which COCOeval reads
    unconditionally (a file that omits them, e.g. one written by another tool, would otherwise end
    in a KeyError); then rebuild the index. A well-formed file is evaluated unchanged."""
    anns = gt.dataset.get("annotations") or []
    kept = [a for a in anns if isinstance(a, dict) and _usable(a)]
    changed = len(kept) != len(anns)
    for ann in kept:
        if "area" not in ann or "iscrowd" not in ann:
            ann.setdefault("area", float(ann["bbox"][2] * ann["bbox"][3]))
            ann.setdefault("iscrowd", 0)
            changed = True
    if changed:
        gt.dataset["annotations"] = kept
        gt.createIndex()


def coco_entries(arrays: DetectionArrays) -> list[dict]:
    """Detections as COCO results entries in :func:`coco_from_dataset`'s ids (image ``i + 1``,
    category = label), boxes ``[x, y, w, h]``."""
    return [
        {
            "image_id": int(i) + 1,
            "category_id": int(lab),
            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "score": float(s),
        }
        for i, lab, s, b in zip(arrays.image_idx, arrays.labels, arrays.scores, arrays.boxes.tolist(), strict=True)
    ]


def coco_evaluate(dataset: DetectionDataset, results: list[dict] | None, arrays: DetectionArrays) -> dict:
    """Run COCOeval (bbox) on the detections ``arrays`` (``results``: the same as results entries,
    or None to rebuild them from the arrays).

    For a COCO dataset with its file the ground truth is that file and ``results`` go in
    unchanged, so the numbers are those of calling pycocotools directly; otherwise (an XML
    dataset, or records without a file) both are converted.
    Returns ``{"stats": {name: value}, "per_class": [K] AP (NaN without ground truth),
    "curves": [K] (recall, precision) at IoU 0.5, "summary": pycocotools' printed summary}``.
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        from_file = dataset.kind == "coco" and dataset.ann_file is not None
        if from_file:
            gt = COCO(str(dataset.ann_file))
            _fill_defaults(gt)
            dets = results if results is not None else arrays_to_results(dataset, arrays)
        else:
            gt = coco_from_dataset(dataset)
            dets = coco_entries(arrays)
        if dets:
            dt = gt.loadRes(dets)
        else:  # loadRes rejects an empty list; an empty result set scores 0 everywhere
            dt = COCO()
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T iou, R recall, K, A area, M maxdets]
    cat_ids = ev.params.catIds
    index = {c: k for k, c in enumerate(cat_ids)}
    per_class, curves = [], []
    rec_thr = np.asarray(ev.params.recThrs)
    label_cats = dataset.category_ids if from_file else list(range(1, dataset.num_classes + 1))
    for cat in label_cats:
        p = precision[:, :, index[cat], 0, -1]
        valid = p[p > -1]
        per_class.append(float(valid.mean()) if valid.size else float("nan"))
        p50 = precision[0, :, index[cat], 0, -1]
        curves.append((rec_thr[p50 > -1], p50[p50 > -1]))
    return {
        "stats": dict(zip(STAT_NAMES, (float(v) for v in ev.stats), strict=True)),
        "per_class": per_class,
        "curves": curves,
        "summary": out.getvalue(),
    }
