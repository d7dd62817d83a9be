"""Presenting an evaluation: a printed table, a JSON file and precision-recall plots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..files import write_json
from ..plotting import pyplot


def format_report(report: dict) -> str:
    """The per-class table and the headline numbers, as printed by the tools."""
    lines = [
        f"{report['metric']} on {report['dataset']}: {report['num_images']} images, {report['num_detections']} detections"
    ]
    width = max([len(n) for n in report["per_class"]] + [5])
    lines.append(f"{'class':<{width}}  {'AP':>7}  {'#gt':>7}  {'#det':>8}")
    for name, ap in report["per_class"].items():
        ap_s = "   n/a" if ap is None else f"{ap:7.4f}"
        lines.append(f"{name:<{width}}  {ap_s:>7}  {report['num_gt'][name]:>7}  {report['num_det'][name]:>8}")
    if "stats" in report:
        lines.append("  ".join(f"{k} {v:.4f}" for k, v in report["stats"].items()))
    lines.append(f"mAP ({report['metric']}): {report['mAP']:.4f}")
    if report.get("classes_without_gt"):
        lines.append(f"({report['classes_without_gt']} classes without ground truth are left out of the mean)")
    if report.get("dropped"):
        lines.append("dropped: " + "; ".join(f"{n} {k}" for k, n in report["dropped"].items()))
    return "\n".join(lines)


def write_report(report: dict, path: str | Path) -> Path:
    """``report`` as strict JSON, atomically (an undefined number, e.g. the mAP of a split
    without ground truth, is ``null``)."""
    return write_json(path, report)


def safe_filename(name: str) -> str:
    """``name`` (a class name) as a file-name part: runs of anything but ``[A-Za-z0-9_.-]`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "class"


def plot_pr_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], report: dict, out_dir: str | Path) -> list[Path]:
    """One PNG per class (``pr_<class>.png``) with its precision-recall curve and AP."""
    plt = pyplot()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (rec, prec) in curves.items():
        ap = report["per_class"].get(name)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        if len(rec) and not np.isnan(rec).all():
            ax.step(np.concatenate([[0.0], rec]), np.concatenate([[prec[0] if len(prec) else 0.0], prec]), where="post")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        kind = "AP@[.5:.95]; curve at IoU 0.5" if report["metric"] == "coco" else report["metric"]
        ax.set_title(f"{name}: AP {'n/a' if ap is None else f'{ap:.3f}'} ({kind})", fontsize=9)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"pr_{safe_filename(name)}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths
