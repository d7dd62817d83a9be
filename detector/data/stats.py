"""What a detection dataset holds, in numbers: the report ``tools/inspect_data.py`` writes and
every trainer logs first (``dataset.json``), and that ``--auto`` chooses settings from.

Sizes are in the records' frame (:mod:`.records`): continuous pixels of the image as stored.
An object's *size* is ``sqrt(w * h)`` in pixels, its *relative size* ``sqrt(w * h / (W * H))``
(the side of the square it would fill, as a share of the image's), its *aspect* ``w / h``.
Percentiles are numpy's default (linear interpolation between the closest ranks).
"""

from __future__ import annotations

import numpy as np

from .records import DetectionDataset

PERCENTILES = (0, 5, 10, 25, 50, 75, 90, 95, 100)


def percentiles(values: np.ndarray, ndigits: int = 4) -> dict[str, float] | None:
    """``{"p0": ..., "p5": ..., "p100": ..., "mean": ...}`` of a 1-D array (None when empty)."""
    values = np.asarray(values, np.float64)
    if not len(values):
        return None
    ps = np.percentile(values, PERCENTILES)
    out = {f"p{p}": round(float(v), ndigits) for p, v in zip(PERCENTILES, ps, strict=True)}
    out["mean"] = round(float(values.mean()), ndigits)
    return out


def object_arrays(ds: DetectionDataset) -> dict[str, np.ndarray]:
    """Every object of the split, one row each: ``boxes [N, 4]`` xyxy pixels, ``labels [N]``,
    ``image_wh [N, 2]`` its image's size, ``image [N]`` its record's index, ``difficult``,
    ``iscrowd`` and ``truncated [N]`` bool (truncated False where the format has no flag)."""
    recs = ds.records
    counts = np.array([len(r.boxes) for r in recs], np.int64)

    def cat(get, empty):
        parts = [get(r) for r in recs if len(r.boxes)]
        return np.concatenate(parts) if parts else empty

    return {
        "boxes": cat(lambda r: r.boxes, np.zeros((0, 4), np.float32)).astype(np.float64),
        "labels": cat(lambda r: r.labels, np.zeros(0, np.int64)),
        "image_wh": np.repeat(np.array([[r.width, r.height] for r in recs], np.float64).reshape(-1, 2), counts, 0),
        "image": np.repeat(np.arange(len(recs)), counts),
        "difficult": cat(lambda r: r.difficult, np.zeros(0, bool)),
        "iscrowd": cat(lambda r: r.iscrowd, np.zeros(0, bool)),
        "truncated": cat(lambda r: r.truncated if r.truncated is not None else np.zeros(len(r.boxes), bool),
                         np.zeros(0, bool)),
    }  # fmt: skip


def split_report(ds: DetectionDataset) -> dict:
    """The numbers of one split (module docstring for the definitions): images and objects, per
    class and per image, image sizes, object sizes (pixels and relative), aspects, the flags and
    the problems the loader counted (what it dropped or fixed, by kind)."""
    a = object_arrays(ds)
    per_image = np.array([len(r.boxes) for r in ds.records], np.int64)
    wh = a["boxes"][:, 2:] - a["boxes"][:, :2]
    area = wh[:, 0] * wh[:, 1]
    names = ds.names_for_report()
    classes = {}
    for k, name in enumerate(names, 1):
        mine = a["labels"] == k
        classes[name] = {
            "objects": int(mine.sum()),
            "images": int(len(np.unique(a["image"][mine]))),
            "size_px": percentiles(np.sqrt(area[mine]), 2),
        }
    flags = "voc" if ds.is_xml else "coco"
    return {
        "images": len(ds.records),
        "objects": int(len(a["labels"])),
        "images_without_objects": int((per_image == 0).sum()),
        "objects_per_image": percentiles(per_image, 2),
        "classes": classes,
        "image_width": percentiles([r.width for r in ds.records], 1),
        "image_height": percentiles([r.height for r in ds.records], 1),
        "image_short_side": percentiles([min(r.width, r.height) for r in ds.records], 1),
        "size_px": percentiles(np.sqrt(area), 2),
        "width_px": percentiles(wh[:, 0], 2),
        "height_px": percentiles(wh[:, 1], 2),
        "relative_size": percentiles(np.sqrt(area / a["image_wh"].prod(1)), 4),
        "aspect": percentiles(wh[:, 0] / wh[:, 1], 3),
        "difficult": int(a["difficult"].sum()),
        "truncated": int(a["truncated"].sum()) if flags == "voc" else None,
        "crowd": int(a["iscrowd"].sum()),
        "problems": dict(ds.log.counts),
    }


def dataset_report(splits: dict[str, DetectionDataset]) -> dict:
    """``{"classes": [...], "kind": ..., "splits": {name: split_report}}`` for splits that share
    their classes (the first split's are reported)."""
    first = next(iter(splits.values()))
    return {
        "kind": first.kind,
        "classes": list(first.names_for_report()),
        "splits": {name: split_report(ds) for name, ds in splits.items()},
    }


def _pct(p: dict | None, keys=("p5", "p50", "p95"), fmt: str = "{:.0f}") -> str:
    return " / ".join(fmt.format(p[k]) for k in keys) if p else "-"


def format_split(name: str, s: dict) -> list[str]:
    """A few lines a person reads first: counts, class histogram, sizes, problems."""
    classes = ", ".join(f"{c} {v['objects']:,} ({v['images']} images)" for c, v in s["classes"].items())
    problems = "; ".join(f"{n} {k}" for k, n in s["problems"].items()) or "none"
    flags = f"difficult {s['difficult']}" + (f", truncated {s['truncated']}" if s["truncated"] is not None else "")
    flags += f", crowd {s['crowd']}" if s["crowd"] else ""
    opi = s["objects_per_image"]
    return [
        f"{name}: {s['images']:,} images, {s['objects']:,} objects ({opi['mean'] if opi else 0:.1f} an image, "
        f"at most {opi['p100'] if opi else 0:.0f}; {s['images_without_objects']} images without any)",
        f"  classes: {classes}",
        f"  images (w x h, median): {_pct(s['image_width'], ('p50',))} x {_pct(s['image_height'], ('p50',))}; "
        f"object size sqrt(w*h) p5 / median / p95: {_pct(s['size_px'])} px, "
        f"{_pct(s['relative_size'], fmt='{:.3f}')} of the image; aspect w/h {_pct(s['aspect'], fmt='{:.2f}')}",
        f"  {flags}; problems: {problems}",
    ]


def format_report(report: dict) -> str:
    lines = [f"dataset ({report['kind']}, {len(report['classes'])} classes)"]
    for name, s in report["splits"].items():
        lines += format_split(name, s)
    return "\n".join(lines)


__all__ = ["PERCENTILES", "dataset_report", "format_report", "object_arrays", "percentiles", "split_report"]
