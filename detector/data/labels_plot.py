"""The labels picture of a split (Ultralytics' ``labels.jpg``, in our frame): how many objects
of each class, how big, how elongated, and where in the image (:mod:`.stats` gives the numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_path
from ..plotting import pyplot
from .records import DetectionDataset
from .stats import object_arrays


def _log_bins(values: np.ndarray, n: int = 30) -> np.ndarray:
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (1.0, 2.0)
    lo = max(lo, 1e-3)
    return np.geomspace(lo, max(hi, lo * 1.01), n + 1)


def _plain_log_axis(axis, values: np.ndarray) -> None:
    """Ticks at 1, 2, 5 x 10^k within ``values``' range, written plainly (50, not 5 x 10^1)."""
    from matplotlib import ticker  # with pyplot, only when plotting (its start-up cost)

    lo, hi = (float(values.min()), float(values.max())) if len(values) else (1.0, 10.0)
    decades = range(int(np.floor(np.log10(max(lo, 1e-3)))), int(np.ceil(np.log10(max(hi, 1e-3)))) + 1)
    ticks = [m * 10.0**k for k in decades for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    axis.set_major_locator(ticker.FixedLocator(ticks))
    axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(ticker.NullFormatter())


def plot_labels(ds: DetectionDataset, path: str | Path, title: str = "") -> Path:
    """Write a 2x2 PNG to ``path``: objects per class; object size ``sqrt(w*h)`` in pixels per
    class (log axis); aspect ``w/h`` (log axis); box centres as a share of the image's width
    and height (a 2-D histogram, the image's top at the top)."""
    plt = pyplot()
    a = object_arrays(ds)
    names = list(ds.names_for_report())
    wh = a["boxes"][:, 2:] - a["boxes"][:, :2]
    size = np.sqrt(wh.prod(1))
    centres = (a["boxes"][:, :2] + a["boxes"][:, 2:]) / 2 / np.maximum(a["image_wh"], 1)
    fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
    counts = np.bincount(a["labels"], minlength=len(names) + 1)[1:]
    ax[0, 0].bar(range(len(names)), counts, color="tab:blue")
    ax[0, 0].set_xticks(range(len(names)), names, rotation=45 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center", fontsize=8)  # fmt: skip
    ax[0, 0].set_ylabel("objects")
    bins = _log_bins(size)
    for k, name in enumerate(names[:10], 1):  # more classes than colours: the first ten
        ax[0, 1].hist(size[a["labels"] == k], bins=bins, histtype="step", label=name)
    ax[0, 1].set_xscale("log")
    _plain_log_axis(ax[0, 1].xaxis, size)
    ax[0, 1].set_xlabel("object size sqrt(w*h), pixels")
    ax[0, 1].set_ylabel("objects")
    if names:
        ax[0, 1].legend(fontsize=7)
    aspect = wh[:, 0] / np.maximum(wh[:, 1], 1e-6)
    ax[1, 0].hist(aspect, bins=_log_bins(aspect), color="tab:green")
    ax[1, 0].set_xscale("log")
    _plain_log_axis(ax[1, 0].xaxis, aspect)
    ax[1, 0].set_xlabel("aspect w/h")
    ax[1, 0].set_ylabel("objects")
    ax[1, 1].hist2d(centres[:, 0], centres[:, 1], bins=24, range=[[0, 1], [0, 1]], cmap="Blues")
    ax[1, 1].invert_yaxis()
    ax[1, 1].set_xlabel("centre x / image width")
    ax[1, 1].set_ylabel("centre y / image height")
    fig.suptitle(title or f"{ds.name}: {len(ds.records)} images, {len(a['labels'])} objects")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)


__all__ = ["plot_labels"]
