"""How well proposals cover the ground truth: recall at IoU 0.5/0.7, ABO/MABO, counts.

For each counted ground-truth box (not difficult, not crowd) its best overlap is the highest
IoU with any proposal of its image; recall at ``t`` is the fraction with best overlap ``>= t``;
ABO is the mean best overlap and MABO the mean over classes of the per-class ABO (Uijlings et
al.). The recall-vs-number curve uses each image's first ``n`` proposals (rank order); the
recall-vs-IoU curve all of them, and ABO at each count too. ``seconds_per_image`` is the mean
time an image's proposals took when the cache was filled (selective search in one worker, the
MultiBox network's share of its batch), where the cache recorded it.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou

from ..data.records import DetectionDataset
from ..plotting import pyplot
from .cache import ProposalCache

COUNTS = (1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000, 2000, 5000)
TABLE_COUNTS = (10, 50, 100, 200, 300, 500, 1000, 2000)  # the columns of recall_table
IOU_GRID = np.round(np.arange(0.05, 1.0001, 0.05), 2)  # recall against the IoU threshold (all proposals)


def proposal_recall(dataset: DetectionDataset, cache: ProposalCache, counts: tuple[int, ...] = COUNTS) -> dict:
    best_all, best_at_n, labels, n_props, missing, seconds = [], [], [], [], [], []
    for r in dataset.records:
        found = cache.find_timed(r.image_id, r.file)
        if found is None:  # e.g. unreadable: named in "missing", not counted
            missing.append(str(r.file))
            continue
        boxes, sec = found
        if sec is not None:
            seconds.append(sec)
        n_props.append(len(boxes))
        keep = ~(r.difficult | r.iscrowd)
        gt = torch.from_numpy(r.boxes[keep])
        if not len(gt):
            continue
        labels.append(r.labels[keep])
        if not len(boxes):
            best_all.append(np.zeros(len(gt)))
            best_at_n.append(np.zeros((len(gt), len(counts))))
            continue
        running = box_iou(gt, torch.from_numpy(boxes)).cummax(1).values  # [G, N]: best of the first n
        idx = torch.tensor([min(n, running.shape[1]) - 1 for n in counts])
        best_at_n.append(running[:, idx].numpy())
        best_all.append(running[:, -1].numpy())
    best = np.concatenate(best_all) if best_all else np.zeros(0)
    at_n = np.concatenate(best_at_n) if best_at_n else np.zeros((0, len(counts)))
    lab = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    per_class = {dataset.names_for_report()[c - 1]: float(best[lab == c].mean()) for c in np.unique(lab)}
    return {
        "recall@0.5": float((best >= 0.5).mean()) if len(best) else 0.0,
        "recall@0.7": float((best >= 0.7).mean()) if len(best) else 0.0,
        "abo": float(best.mean()) if len(best) else 0.0,
        "mabo": float(np.mean(list(per_class.values()))) if per_class else 0.0,
        "mean_count": float(np.mean(n_props)) if n_props else 0.0,
        "seconds_per_image": float(np.mean(seconds)) if seconds else None,
        "timed_images": len(seconds),
        "num_gt": int(len(best)),
        "num_images": len(dataset.records) - len(missing),
        "missing": missing,
        "abo_per_class": per_class,
        "recall_vs_iou": {
            "iou": IOU_GRID.tolist(),
            "recall": [float((best >= t).mean()) if len(best) else 0.0 for t in IOU_GRID],
        },
        "curve": {
            "counts": list(counts),
            "recall@0.5": (at_n >= 0.5).mean(0).tolist() if len(at_n) else [],
            "recall@0.7": (at_n >= 0.7).mean(0).tolist() if len(at_n) else [],
            "abo": at_n.mean(0).tolist() if len(at_n) else [],
        },
    }


def recall_table(results: dict[str, dict], counts: tuple[int, ...] = TABLE_COUNTS) -> str:
    """Recall@0.5, recall@0.7 and ABO at ``counts`` boxes an image (each image's first ``n``), and
    seconds an image, three rows per ``{name: proposal_recall result}``."""
    lines = [f"{'proposals':<24}{'':>10}" + "".join(f"{n:>7}" for n in counts) + f"{'s/img':>9}"]
    for name, res in results.items():
        c = res["curve"]
        at = [c["counts"].index(n) for n in counts]
        sec = res.get("seconds_per_image")
        for key in ("recall@0.5", "recall@0.7", "abo"):
            vals = "".join(f"{c[key][i]:>7.3f}" if c[key] else f"{'-':>7}" for i in at)
            tail = f"{sec:>9.3f}" if key == "recall@0.5" and sec is not None else ""
            lines.append(f"{name[:23] if key == 'recall@0.5' else '':<24}{key:>10}{vals}{tail}")
    return "\n".join(lines)


def plot_recall_curves(results: dict[str, dict], out: str, title: str) -> None:
    """Recall@0.5 (solid) and @0.7 (dashed) against the number of proposals, a colour per cache."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for k, (name, res) in enumerate(results.items()):
        c, colour = res["curve"], f"C{k}"
        ax.plot(c["counts"], c["recall@0.5"], marker="o", ms=3, color=colour, label=f"{name} @0.5")
        ax.plot(c["counts"], c["recall@0.7"], ls="--", color=colour, lw=1, label=f"{name} @0.7")
    ax.set(xscale="log", xlabel="proposals per image (first n)", ylabel="recall", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
