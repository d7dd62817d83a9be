"""The paper's Tables 4 and 5 for a set of detectors: every member, the full ensemble, and the
best subset chosen greedily, each with mAP@0.5 (or the metric asked for) and COCO AP, and the
ensembles' gain over their best member with a paired bootstrap over the images.

Every member scores every image once (its views averaged, :meth:`.Ensemble.member_scores`), and
the scores are kept: any subset, with any weights, is then post-processed (or fused) without
running a network again. That is what makes the greedy selection (Caruana et al. 2004: start
from nothing, add the member, again or for the first time, that raises the selection split's
score most; stop when none does) cheap. Memory: a split's ``N`` proposals x ``K+1`` classes x
5 floats per image and member. One process (no ``torchrun``).

    det = Detector.load([a, b, c])
    report = members_report(det, test_split, "voc", "cache/", select=val_split)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou
from tqdm import tqdm

from ..data.records import DetectionDataset
from ..errors import UserError
from ..eval import evaluate_arrays, evaluate_detections
from ..eval.bootstrap import paired_bootstrap
from ..eval.results import DetectionArrays, arrays_to_results
from ..rcnn.data import ProposalImageDataset
from ..rcnn.ensemble import Scores
from ..rcnn.fusion import DETECTION_FUSIONS
from ..rcnn.postprocess import postprocess
from ..rcnn.predict import label_map
from .detector import Detector


@dataclass
class MemberOutputs:
    """Every member's scores of a split: per image (``index`` into ``dataset.records``), its
    size, the proposals each member scored (:meth:`~.Ensemble.member_boxes`) and its
    :data:`~.ensemble.Scores` over them; ``failed``: ``[(file, why)]`` of images skipped."""

    dataset: DetectionDataset
    index: list[int]
    sizes: list[tuple[int, int]]
    boxes: list[list[torch.Tensor]]
    scores: list[list[Scores]]
    failed: list[tuple[str, str]]


def collect_outputs(det: Detector, dataset: DetectionDataset, proposals, progress: bool = True) -> MemberOutputs:
    """Run every member of ``det`` over ``dataset`` once; proposals from the cache(s) at
    ``proposals`` (filled first where missing, as :meth:`Detector.detect_split` does)."""
    items = ProposalImageDataset(dataset.records, det.split_proposals(dataset, proposals), det.test.max_proposals)
    out = MemberOutputs(dataset, [], [], [], [], [])
    ens = det.ensemble
    for k in tqdm(range(len(items)), desc="members", disable=not progress, leave=False):
        i, image, sets, why = items[k]
        if image is None:
            out.failed.append((str(dataset.records[i].file), why))
            continue
        boxes = ens.member_boxes(sets)
        out.index.append(i)
        out.sizes.append(tuple(image.shape[1:]))
        out.boxes.append(boxes)
        out.scores.append([ens.member_scores(m, image, b) for m, b in zip(det.members, boxes, strict=True)])
    return out


def subset_detections(det: Detector, out: MemberOutputs, weights: Sequence[float]) -> DetectionArrays:
    """The ensemble of the members with ``weights[m] > 0`` (weighted so) on ``out``'s images, as
    ``det`` would detect them; one member alone is that member's own detections (not fused).
    Labels in ``out.dataset``'s ``1..K``."""
    chosen = [m for m, w in enumerate(weights) if w > 0]
    if not chosen:
        raise ValueError("an ensemble needs at least one member with a positive weight")
    to_dataset = label_map(det.class_names, out.dataset, det.members[0].path)
    parts = []
    for i, (h, w), boxes, scores in zip(out.index, out.sizes, out.boxes, out.scores, strict=True):
        if len(chosen) == 1 and det.ensemble.fusion in DETECTION_FUSIONS:
            d = postprocess(*scores[chosen[0]], boxes[chosen[0]], h, w, det.test)
        else:
            d = det.ensemble.detections([scores[m] for m in chosen], [boxes[m] for m in chosen], h, w,
                                        [weights[m] for m in chosen])  # fmt: skip
        parts.append((np.full(len(d), i), to_dataset[d.labels.numpy()], d.scores.numpy(), d.boxes.numpy()))
    return DetectionArrays.concat(parts)


def forward_selection(score: Callable[[tuple[int, ...]], float], members: int, max_steps: int | None = None):
    """Caruana et al.'s greedy ensemble selection with replacement: from no member, add the one
    (again, possibly) whose addition gives the highest ``score(counts)`` (``counts[m]``: how many
    times member ``m`` is in), while that beats the score so far; ties go to the lower index.
    Returns ``(counts, best score, [(member added, score after)])``; at most ``max_steps``
    additions (default ``2 * members``)."""
    counts = [0] * members
    best, history = -np.inf, []
    for _ in range(max_steps or 2 * members):
        trials = []
        for m in range(members):
            c = list(counts)
            c[m] += 1
            trials.append((score(tuple(c)), -m))
        s, neg_m = max(trials)
        if not s > best:
            break
        counts[-neg_m] += 1
        best = s
        history.append((-neg_m, s))
    return tuple(counts), best, history


def agreement(det: Detector, out: MemberOutputs, min_score: float = 0.5, iou: float = 0.5) -> list[list[float]]:
    """``[M][M]``: the share of member ``a``'s detections (score >= ``min_score``) that member
    ``b`` also makes (same class, IoU >= ``iou``, score >= ``min_score``): how alike they are."""
    n = len(det.members)
    hits, total = np.zeros((n, n)), np.zeros(n)
    for boxes, scores, (h, w) in zip(out.boxes, out.scores, out.sizes, strict=True):
        own = []
        for m in range(n):
            d = postprocess(*scores[m], boxes[m], h, w, det.test)
            keep = d.scores >= min_score
            own.append((d.boxes[keep], d.labels[keep]))
        for a in range(n):
            total[a] += len(own[a][1])
            for b in range(n):
                same = (box_iou(own[a][0], own[b][0]) >= iou) & (own[a][1][:, None] == own[b][1][None])
                hits[a, b] += float(same.any(1).sum())
    return (hits / np.maximum(total, 1)[:, None]).round(4).tolist()


def _scores_of(out: MemberOutputs, results: list[dict], metric: str) -> dict:
    """The ``metric``'s mAP and COCO AP of COCO-format ``results`` on ``out``'s split."""
    primary = float(evaluate_detections(out.dataset, results, metric).report["mAP"])
    coco = primary if metric == "coco" else float(evaluate_detections(out.dataset, results, "coco").report["mAP"])
    return {"map": primary, "coco_ap": coco}


def members_report(
    det: Detector, dataset: DetectionDataset, metric: str, proposals, select: DetectionDataset | None = None,
    select_proposals=None, bootstrap: int = 1000, progress: bool = True,
) -> dict:  # fmt: skip
    """Every member, the full ensemble (``det``'s weights) and the greedy subset chosen on
    ``select`` (default: ``dataset`` itself, which flatters the subset; name another split)
    scored on ``dataset``; each ensemble against its best member on ``dataset`` with a paired
    bootstrap of ``bootstrap`` resamplings. See the module doc; :func:`format_members` prints it."""
    return report_and_results(det, dataset, metric, proposals, select, select_proposals, bootstrap, progress)[0]


def report_and_results(
    det: Detector, dataset: DetectionDataset, metric: str, proposals, select: DetectionDataset | None = None,
    select_proposals=None, bootstrap: int = 1000, progress: bool = True,
) -> tuple[dict, list[dict], list[tuple[str, str]]]:  # fmt: skip
    """:func:`members_report`, the full ensemble's detections (COCO results, what
    :meth:`Detector.detect_split` gives) and the images skipped, from one pass of the members."""
    if len(det.members) < 2:
        raise UserError("a members report needs at least two checkpoints")
    out = collect_outputs(det, dataset, proposals, progress)
    n = len(det.members)
    greedy = _greedy(det, out, select, select_proposals or proposals, metric, progress)
    subsets = [("member", _name(det, m), [float(k == m) for k in range(n)]) for m in range(n)]
    subsets += [("ensemble", "ensemble (all)", det.ensemble.weights or [1.0] * n),
                ("ensemble", f"greedy (on {greedy['chosen_on']})", greedy["weights"])]  # fmt: skip
    rows, results = [], []
    for kind, name, weights in subsets:
        results.append(arrays_to_results(dataset, subset_detections(det, out, weights)))
        rows.append({"name": name, "kind": kind, "weights": weights, **_scores_of(out, results[-1], metric)})
    best = max(range(n), key=lambda m: rows[m]["map"])
    for r, res in zip(rows[n:], results[n:], strict=True):
        b = paired_bootstrap(dataset, results[best], res, metric, bootstrap)
        r["gain"] = {"over": rows[best]["name"], "diff": b["diff"], "sd": b["diff_sd"], "ci95": b["diff_ci95"],
                     "p_above_zero": b["p_b_above_a"], "n": b["n"]}  # fmt: skip
    report = {"metric": metric, "split": dataset.name, "images": len(out.index), "failed": out.failed,
              "fusion": det.ensemble.fusion, "views": [v.name for v in det.ensemble.views], "rows": rows,
              "best_member": best, "greedy": greedy, "agreement": agreement(det, out)}  # fmt: skip
    return report, results[n], out.failed


def _name(det: Detector, m: int) -> str:
    p = Path(det.members[m].path)
    return f"{p.parent.name}/{p.name}"


def _greedy(det: Detector, out: MemberOutputs, select, select_proposals, metric: str, progress: bool) -> dict:
    """The forward selection on ``select`` (its own member outputs) or on ``out``'s split."""
    sel = out if select is None else collect_outputs(det, select, select_proposals, progress)

    def score(counts: tuple[int, ...]) -> float:
        return float(evaluate_arrays(sel.dataset, subset_detections(det, sel, counts), metric).report["mAP"])

    counts, best, history = forward_selection(score, len(det.members))
    return {"chosen_on": sel.dataset.name, "weights": [float(c) for c in counts], "score_on_selection": best,
            "history": [{"added": _name(det, m), "score": s} for m, s in history]}  # fmt: skip


def format_members(report: dict) -> str:
    """The report as a table: one line per member and ensemble, gains with their bootstrap."""
    metric = report["metric"]
    lines = [f"{'model':<36} {metric + ' mAP':>10} {'COCO AP':>8}  gain over best member (bootstrap sd, P>0)"]
    for r in report["rows"]:
        g = r.get("gain")
        gain = f"{g['diff']:+.4f} (sd {g['sd']:.4f}, {g['p_above_zero']:.0%})" if g else ""
        weights = "" if r["kind"] == "member" else " x" + ",".join(f"{w:g}" for w in r["weights"])
        lines.append(f"{(r['name'] + weights)[:36]:<36} {r['map']:>10.4f} {r['coco_ap']:>8.4f}  {gain}")
    agree = report["agreement"]
    pairs = [agree[a][b] for a in range(len(agree)) for b in range(len(agree)) if a != b]
    lines.append(f"members agree on {np.mean(pairs):.0%} of their detections (score >= 0.5, IoU >= 0.5; pairs' mean)")
    return "\n".join(lines)
