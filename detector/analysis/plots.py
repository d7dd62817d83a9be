"""The figures of the error-analysis page (matplotlib, Agg), each written as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plotting import pyplot
from .coco_breakdown import KINDS
from .fp_types import TYPES

TYPE_COLORS = {"Cor": "#2ca02c", "Loc": "#ff7f0e", "Sim": "#9467bd", "Oth": "#1f77b4", "BG": "#d62728"}
KIND_COLORS = {
    "C75": "#4c72b0",
    "C50": "#64b5cd",
    "Loc": "#55a868",
    "Sim": "#8172b2",
    "Oth": "#ccb974",
    "BG": "#c44e52",
    "FN": "#e5e5e5",
}


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    pyplot().close(fig)
    return path


def plot_fp_types(curve: dict, title: str, path: Path) -> Path:
    """R-CNN's stacked areas: the share of each type among the top n detections, against n."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    if curve["n"]:
        ax.stackplot(
            curve["n"], *[curve["shares"][t] for t in TYPES], labels=TYPES, colors=[TYPE_COLORS[t] for t in TYPES]
        )
        ax.set_xscale("log")
        ax.legend(fontsize=7, loc="lower left", ncol=5)
    else:
        ax.text(0.5, 0.5, "no detections", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="top n detections (by score)", ylabel="share", ylim=(0, 1), title=title)
    return _save(fig, path)


def plot_breakdown(recall: list[float], curves: dict, aps: dict, title: str, path: Path) -> Path:
    """COCO analyze()'s figure: the seven PR curves, the area between each filled."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.4, 3.4))
    r = np.asarray(recall)
    for kind in reversed(KINDS):  # FN first, the largest area; each smaller one drawn over it
        ax.fill_between(
            r, 0, curves[kind], color=KIND_COLORS[kind], label=f"[{aps[kind]:.3f}] {kind}", step="post", lw=0
        )
    for kind in KINDS:
        ax.step(r, curves[kind], where="post", color="black", lw=0.4)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title=title)
    ax.legend(fontsize=6, loc="lower left")
    return _save(fig, path)


def plot_sensitivity(sens: dict, overall: float | None, path: Path) -> Path:
    """AP per size and aspect bin, with the overall mAP dashed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3))
    for ax, what in zip(axes, ("size", "aspect"), strict=True):
        s = sens[what]
        ax.bar(s["bins"], [0 if v is None else v for v in s["AP"]], color="#4c72b0")
        if overall is not None and not np.isnan(overall):
            ax.axhline(overall, color="gray", ls="--", lw=0.8)
        ax.set(ylim=(0, 1), ylabel="AP", title=f"AP by object {what}")
    return _save(fig, path)


def plot_confusion(labels: list[str], matrix: list[list[int]], path: Path) -> Path:
    """Row-normalized confusion matrix (true class down, predicted across); counts written in
    the cells when there are few classes."""
    plt = pyplot()
    m = np.asarray(matrix, np.float64)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    k = len(labels)
    size = min(14, 2.5 + 0.4 * k)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(k)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7 if k < 40 else 4)
    ax.set_yticks(ticks, labels, fontsize=7 if k < 40 else 4)
    ax.set(xlabel="predicted (background: missed)", ylabel="true (background: false alarm)")
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if m[i, j]:
                    ax.text(
                        j,
                        i,
                        int(m[i, j]),
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if share[i, j] > 0.5 else "black",
                    )
    return _save(fig, path)


def plot_proposal_recall(rec: dict, path: Path) -> Path:
    """Recall of the proposals against the IoU threshold."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.plot(rec["recall_vs_iou"]["iou"], rec["recall_vs_iou"]["recall"], marker="o", ms=3)
    ax.set(xlabel="IoU threshold", ylabel="recall", xlim=(0, 1), ylim=(0, 1.02),
           title=f"proposals: {rec['mean_count']:.0f} per image")  # fmt: skip
    ax.grid(alpha=0.3)
    return _save(fig, path)
