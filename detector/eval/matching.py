"""Greedy detection-to-ground-truth matching of the VOC and ILSVRC devkits, vectorized.

Detections and ground truth are grouped by ``(image, class)``. Within a group, detections are
taken in descending score (ties: in input order, as the devkits' stable sorts do), and:

- ``voc``: the detection takes the ground truth of highest IoU (the first one on ties). If IoU
  ``>= thresh``: a difficult/ignored box makes the detection ignored; an unmatched one is a true
  positive and becomes matched; an already matched one makes a duplicate, a false positive.
  Below ``thresh``: false positive.
- ``ilsvrc``: among the ground truths not yet matched whose IoU reaches their own threshold
  ``min(0.5, wh / ((w + 10)(h + 10)))``, the detection takes the one of highest IoU (a true
  positive; ignored if that box is ignored); none: false positive.

The only Python loop is over the rank of a detection within its group (its length is the
largest group's detection count), each step handling every group at once on padded arrays.
IoU is computed in float64 on continuous xyxy boxes, which equals the devkits' inclusive "+1"
arithmetic on the 1-based boxes they read.
"""

from __future__ import annotations

import numpy as np

PAD_BUDGET = 4_000_000  # elements of a padded [groups, dets, gts] IoU block


def ilsvrc_thresholds(gt_boxes: np.ndarray) -> np.ndarray:
    """``[T]`` IoU thresholds ``min(0.5, wh / ((w + 10)(h + 10)))`` for ``[T, 4]`` xyxy boxes."""
    w = gt_boxes[:, 2].astype(np.float64) - gt_boxes[:, 0]
    h = gt_boxes[:, 3].astype(np.float64) - gt_boxes[:, 1]
    return np.minimum(0.5, w * h / ((w + 10.0) * (h + 10.0)))


def _batched_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``[G, D, 4]`` with ``[G, T, 4]`` xyxy boxes -> ``[G, D, T]`` float64."""
    a, b = a.astype(np.float64)[:, :, None, :], b.astype(np.float64)[:, None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _chunks(counts_d: np.ndarray, counts_t: np.ndarray) -> list[np.ndarray]:
    """Split group indices (sorted by detection count) into blocks whose padded size fits."""
    order = np.argsort(counts_d, kind="stable")
    chunks, start = [], 0
    while start < len(order):
        end = start + 1
        max_t = counts_t[order[start]]
        while end < len(order):
            max_t_next = max(max_t, counts_t[order[end]])
            if (end + 1 - start) * counts_d[order[end]] * max_t_next > PAD_BUDGET:
                break
            max_t = max_t_next
            end += 1
        chunks.append(order[start:end])
        start = end
    return chunks


def _layout(det_group: np.ndarray, det_score: np.ndarray, gt_group: np.ndarray) -> tuple[np.ndarray, ...]:
    """Detections sorted by group then descending score (ties in input order), ground truth by
    group, and per group present among the detections: where its detections and its ground truth
    start in those orders and how many there are. Returns ``(d_order, t_order, d_start, d_count,
    t_start, t_count)``."""
    d_order = np.lexsort((np.arange(len(det_group)), -np.asarray(det_score, np.float64), det_group))
    t_order = np.argsort(gt_group, kind="stable")
    dg, tg = det_group[d_order], gt_group[t_order]
    groups, d_start, d_count = np.unique(dg, return_index=True, return_counts=True)
    t_start = np.searchsorted(tg, groups, "left")
    return d_order, t_order, d_start, d_count, t_start, np.searchsorted(tg, groups, "right") - t_start


def _padded(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of indices ``start[g] + 0..count[g]-1`` padded with 0 to the longest: ``(index
    [G, max count], valid [G, max count])``."""
    ar = np.arange(int(count.max()))
    valid = ar[None] < count[:, None]
    return np.where(valid, start[:, None] + ar[None], 0), valid


def _match_block(
    rule: str, iou: np.ndarray, ign: np.ndarray, thr: np.ndarray, valid_d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy matching in ``G`` groups at once, detections in score order: ``iou [G, n_d, n_t]``
    (-1 where a ground-truth slot is padding), ``ign``/``thr [G, n_t]``, ``valid_d [G, n_d]``.
    Returns ``(tp, fp, j)`` ``[G, n_d]``: ``j`` the slot a true positive took, or the ignored box a
    detection hit, -1 else."""
    g, n_d, n_t = iou.shape
    matched = np.zeros((g, n_t), bool)
    rows = np.arange(g)
    tp_blk, fp_blk = np.zeros((g, n_d), bool), np.zeros((g, n_d), bool)
    j_blk = np.full((g, n_d), -1, np.int64)
    for r in range(n_d):
        ov = iou[:, r, :]
        if rule == "voc":
            j = ov.argmax(1)
            hit = ov[rows, j] >= thr[rows, j]
            is_ign, taken = ign[rows, j], matched[rows, j]
            tp_r = hit & ~is_ign & ~taken
            fp_r = ~hit | (~is_ign & taken)
        else:
            cand = np.where(~matched & (ov >= thr), ov, -np.inf)
            j = cand.argmax(1)
            hit = np.isfinite(cand[rows, j])
            tp_r = hit & ~ign[rows, j]
            fp_r = ~hit
        active = valid_d[:, r]
        tp_r &= active
        fp_r &= active
        matched[rows[tp_r], j[tp_r]] = True
        tp_blk[:, r], fp_blk[:, r] = tp_r, fp_r
        took = active & ~fp_r  # a true positive, or a hit on an ignored box
        j_blk[took, r] = j[took]
    return tp_blk, fp_blk, j_blk


def greedy_match(
    det_group: np.ndarray,
    det_score: np.ndarray,
    det_boxes: np.ndarray,
    gt_group: np.ndarray,
    gt_boxes: np.ndarray,
    gt_ignore: np.ndarray,
    gt_thresh: np.ndarray,
    rule: str,
    return_match: bool = False,
) -> tuple[np.ndarray, ...]:
    """Match detections to ground truth per group.

    Args:
        det_group: ``[D]`` int64 group id (image and class) of each detection.
        det_score: ``[D]`` scores.
        det_boxes: ``[D, 4]`` xyxy.
        gt_group: ``[T]`` int64 group id of each ground-truth box.
        gt_boxes: ``[T, 4]`` xyxy.
        gt_ignore: ``[T]`` bool, difficult or crowd: matching it makes a detection ignored.
        gt_thresh: ``[T]`` float IoU threshold of each box (0.5 for VOC).
        rule: ``"voc"`` or ``"ilsvrc"`` (see the module docstring).
    Returns:
        ``(tp, fp)``, ``[D]`` bool each, in input order; a detection with neither is ignored.
        With ``return_match``, also ``[D]`` int64: the index (into the ground-truth arrays) of
        the box a true positive took, or the ignored box that made a detection ignored; -1 else.
    """
    if rule not in ("voc", "ilsvrc"):
        raise ValueError(f"unknown matching rule {rule!r}")
    n_det = len(det_group)
    tp = np.zeros(n_det, bool)
    fp = np.zeros(n_det, bool)
    match = np.full(n_det, -1, np.int64)
    if n_det == 0:
        return (tp, fp, match) if return_match else (tp, fp)
    d_order, t_order, d_start, d_count, t_start, t_count = _layout(det_group, det_score, gt_group)

    no_gt = t_count == 0
    fp[d_order[np.repeat(no_gt, d_count)]] = True  # a group without ground truth: all false positives
    sel = np.flatnonzero(~no_gt)
    boxes_d, boxes_t = det_boxes[d_order], gt_boxes[t_order]
    ign_t, thr_t = gt_ignore[t_order], gt_thresh[t_order]
    for chunk in _chunks(d_count[sel], t_count[sel]):
        g = sel[chunk]
        di, valid_d = _padded(d_start[g], d_count[g])
        ti, valid_t = _padded(t_start[g], t_count[g])
        iou = _batched_iou(boxes_d[di], boxes_t[ti])
        iou[~np.broadcast_to(valid_t[:, None, :], iou.shape)] = -1.0
        tp_blk, fp_blk, j_blk = _match_block(rule, iou, ign_t[ti], thr_t[ti], valid_d)
        took = j_blk >= 0
        match_blk = np.full(j_blk.shape, -1, np.int64)
        match_blk[took] = t_order[np.take_along_axis(ti, np.maximum(j_blk, 0), 1)[took]]
        tp[d_order[di[valid_d]]] = tp_blk[valid_d]
        fp[d_order[di[valid_d]]] = fp_blk[valid_d]
        match[d_order[di[valid_d]]] = match_blk[valid_d]
    return (tp, fp, match) if return_match else (tp, fp)
