"""Every number of the error-analysis page, computed once: :func:`analyze`.

    a = analyze(dataset, results, "voc", proposals="cache/")
    a.data["fp_types"]["overall"]["at_num_gt"]     # {"Cor": .., "Loc": .., "Sim": .., "Oth": .., "BG": ..}
    write_page("analysis/", dataset, a)             # index.html, analysis.json, plots/, gallery/

``a.data`` is what ``analysis.json`` holds (plain JSON); the page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.records import DetectionDataset
from ..eval.detection import evaluate_detections, gt_arrays
from ..eval.matching import greedy_match, ilsvrc_thresholds
from ..eval.results import DetectionArrays, results_to_arrays
from ..proposals.cache import ProposalCache
from ..proposals.recall import proposal_recall
from .coco_breakdown import coco_breakdown
from .confusion import confusion_matrix
from .fp_types import COR, TYPES, box_iou_np, detection_types, shares_at, top_shares
from .groups import class_groups
from .sensitivity import sensitivity

GALLERY_SIZE = 20  # false positives and missed objects shown per class


@dataclass
class Analysis:
    data: dict  # analysis.json
    dets: DetectionArrays  # the detections, in the dataset's frame
    types: np.ndarray  # [D] Hoiem type of each detection (fp_types)
    curves: dict  # class name -> (recall, precision) of the metric
    gallery: dict  # class name -> {"false_positives": [det index], "missed": [(gt index, det index or -1)]}


def _share_curves(types: np.ndarray, scores: np.ndarray, points: int = 60) -> dict:
    """Shares among the top n detections at ~``points`` values of n (log-spaced), and at every
    count when there are fewer."""
    shares = top_shares(types, scores)
    if not len(shares):
        return {"n": [], "shares": {t: [] for t in TYPES}}
    n = np.unique(np.geomspace(1, len(shares), min(points, len(shares))).round().astype(int))
    return {"n": n.tolist(), "shares": {t: shares[n - 1, k].tolist() for k, t in enumerate(TYPES)}}


def _missed(dataset: DetectionDataset, dets: DetectionArrays, metric: str, gt) -> np.ndarray:
    """Indices of the counted ground-truth boxes (``gt``: :func:`gt_arrays`) that no detection
    found under the metric's matching."""
    k1 = dataset.num_classes + 1
    gt_img, gt_lab, gt_boxes, gt_ign = gt
    rule = "ilsvrc" if metric == "ilsvrc" else "voc"
    thresh = ilsvrc_thresholds(gt_boxes) if rule == "ilsvrc" else np.full(len(gt_boxes), 0.5)
    tp, _, match = greedy_match(
        dets.image_idx * k1 + dets.labels, dets.scores, dets.boxes, gt_img * k1 + gt_lab, gt_boxes, gt_ign, thresh, rule,
        return_match=True,
    )  # fmt: skip
    found = np.zeros(len(gt_boxes), bool)
    found[match[tp]] = True
    return np.flatnonzero(~found & ~gt_ign)


def _nearest(dets: DetectionArrays, gt, g: int) -> int:
    """The detection of ground-truth box ``g``'s image and class that overlaps it most, or -1."""
    gt_img, gt_lab, gt_boxes, _ = gt
    cand = np.flatnonzero((dets.image_idx == gt_img[g]) & (dets.labels == gt_lab[g]))
    if not len(cand):
        return -1
    iou = box_iou_np(gt_boxes[g : g + 1], dets.boxes[cand])[0]
    return int(cand[iou.argmax()]) if iou.max() > 0 else -1


def analyze(
    dataset: DetectionDataset,
    results: list[dict],
    metric: str,
    groups_file: str | Path | None = None,
    proposals: str | Path | None = None,
    score_thresh: float = 0.5,
    blacklist: set | None = None,
    lenient: bool = False,
) -> Analysis:
    """The whole analysis of COCO-format ``results`` on ``dataset`` (see the module doc and
    :mod:`detector.analysis`); ``score_thresh`` is the confusion matrix's."""
    ev = evaluate_detections(dataset, results, metric, blacklist, lenient)
    dets, _ = results_to_arrays(results, dataset, lenient)
    groups, source = class_groups(dataset, groups_file)
    types = detection_types(dataset, dets, groups, "ilsvrc" if metric == "ilsvrc" else "voc")
    names = dataset.names_for_report()
    num_gt = ev.report["num_gt"]
    fp = {"groups": source, "overall": {**_share_curves(types, dets.scores)}}
    fp["overall"]["at_num_gt"] = shares_at(types, dets.scores, max(1, sum(num_gt.values())))
    fp["per_class"] = {}
    gallery: dict[str, dict] = {}
    gt = gt_arrays(dataset)
    missed = _missed(dataset, dets, metric, gt)
    for lab, name in enumerate(names, 1):
        mine = dets.labels == lab
        curve = _share_curves(types[mine], dets.scores[mine])
        curve["at_num_gt"] = shares_at(types[mine], dets.scores[mine], max(1, num_gt.get(name, 0)))
        fp["per_class"][name] = curve
        wrong = np.flatnonzero(mine & (types > COR))  # (IGNORED is below COR)
        top = wrong[np.argsort(-dets.scores[wrong], kind="stable")][:GALLERY_SIZE]
        lost = missed[gt[1][missed] == lab][:GALLERY_SIZE]
        gallery[name] = {"false_positives": top.tolist(), "missed": [(int(g), _nearest(dets, gt, g)) for g in lost]}
    m = confusion_matrix(dataset, dets, score_thresh)
    data = {
        "metric": metric,
        "dataset": dataset.name,
        "num_images": len(dataset.records),
        "num_detections": len(dets),
        "mAP": ev.report["mAP"],
        "per_class": ev.report["per_class"],
        "num_gt": num_gt,
        "num_det": ev.report["num_det"],
        "fp_types": fp,
        "coco_breakdown": coco_breakdown(dataset, dets, groups),
        "sensitivity": sensitivity(dataset, dets, "ilsvrc" if metric == "ilsvrc" else "voc"),
        "confusion": {"labels": ["background", *names], "matrix": m.tolist(), "score_thresh": score_thresh, "iou": 0.5},
    }
    if proposals is not None:
        rec = proposal_recall(dataset, ProposalCache(proposals))
        data["proposal_recall"] = {
            k: rec[k] for k in ("recall_vs_iou", "recall@0.5", "recall@0.7", "abo", "mean_count", "num_gt", "missing")
        }
    return Analysis(data, dets, types, ev.curves, gallery)
