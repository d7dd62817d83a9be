"""Loop-by-loop transcriptions of the VOC and ILSVRC devkits' scoring, for comparison.

They work as the devkits do: 1-based inclusive boxes (``xmin, ymin, xmax, ymax``), "+1" widths,
one detection at a time in a stable descending-score order. Deliberately slow and plain.
"""

import numpy as np


def _iou_inclusive(bb, gt):
    ixmin, iymin = max(bb[0], gt[0]), max(bb[1], gt[1])
    ixmax, iymax = min(bb[2], gt[2]), min(bb[3], gt[3])
    iw, ih = max(ixmax - ixmin + 1.0, 0.0), max(iymax - iymin + 1.0, 0.0)
    inter = iw * ih
    uni = (bb[2] - bb[0] + 1.0) * (bb[3] - bb[1] + 1.0) + (gt[2] - gt[0] + 1.0) * (gt[3] - gt[1] + 1.0) - inter
    return inter / uni


def _ap(rec, prec, use_07):
    if use_07:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = np.max(prec[rec >= t]) if np.sum(rec >= t) > 0 else 0.0
            ap += p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def reference_ap(gt, dets, rule, use_07=False):
    """AP of one class.

    gt: {image: [(xmin, ymin, xmax, ymax, difficult), ...]} 1-based inclusive.
    dets: [(image, score, (xmin, ymin, xmax, ymax)), ...] in file order.
    """
    npos = sum(1 for boxes in gt.values() for b in boxes if not b[4])
    order = sorted(range(len(dets)), key=lambda i: -dets[i][1])  # Python's sort is stable
    detected = {img: [False] * len(b) for img, b in gt.items()}
    tp, fp = [], []
    for i in order:
        img, _, bb = dets[i]
        boxes = gt.get(img, [])
        if rule == "voc":
            ovmax, jmax = -np.inf, -1
            for j, g in enumerate(boxes):
                ov = _iou_inclusive(bb, g)
                if ov > ovmax:
                    ovmax, jmax = ov, j
            if ovmax >= 0.5:
                if boxes[jmax][4]:
                    continue
                if not detected[img][jmax]:
                    tp.append(1), fp.append(0)
                    detected[img][jmax] = True
                else:
                    tp.append(0), fp.append(1)
            else:
                tp.append(0), fp.append(1)
        else:  # ILSVRC eval_detection.m
            ovmax, kmax = -np.inf, -1
            for k, g in enumerate(boxes):
                if detected[img][k]:
                    continue
                w, h = g[2] - g[0] + 1.0, g[3] - g[1] + 1.0
                thr = min(0.5, (w * h) / ((w + 10.0) * (h + 10.0)))
                ov = _iou_inclusive(bb, g)
                if ov >= thr and ov > ovmax:
                    ovmax, kmax = ov, k
            if kmax >= 0:
                if boxes[kmax][4]:
                    continue
                tp.append(1), fp.append(0)
                detected[img][kmax] = True
            else:
                tp.append(0), fp.append(1)
    if npos == 0:
        return float("nan")
    tp, fp = np.cumsum(tp, dtype=float), np.cumsum(fp, dtype=float)
    rec = tp / npos
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return float(_ap(rec, prec, use_07))
