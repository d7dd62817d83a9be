"""Detection results in the COCO results format, and the frame conversion at that boundary.

A results file is a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.

- COCO datasets: COCO's ids; ``bbox`` in COCO's continuous pixel frame.
- XML (VOC/ILSVRC) datasets: ``image_id`` is the image file stem, ``category_id`` the class name
  as written in the XML (the synset id for ILSVRC), and ``bbox`` is in the XML's 1-based frame:
  ``x = xmin``, ``y = ymin`` and ``w = xmax - xmin + 1`` (an inclusive width), so the devkit box
  is ``xmin = x, xmax = x + w - 1``. Internally that is ``(x - 1, y - 1, x - 1 + w, y - 1 + h)``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.coco import read_json
from ..data.records import DatasetError, DetectionDataset
from ..files import write_json


@dataclass
class DetectionArrays:
    """Detections as arrays, in the internal frame: ``image_idx`` ``[D]`` (index into the
    dataset's records), ``labels`` ``[D]`` in ``1..K``, ``scores`` ``[D]``, ``boxes`` ``[D, 4]``
    continuous xyxy. ``source`` ``[D]``: each detection's index in the results list it was read
    from (None when made in memory)."""

    image_idx: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    source: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def concat(cls, parts: list[tuple[np.ndarray, ...]]) -> DetectionArrays:
        """Per-image ``(image_idx, labels, scores, boxes)`` arrays joined into one set (empty for none)."""
        if not parts:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)))
        return cls(*(np.concatenate(c) for c in zip(*parts, strict=True)))


def _offset(dataset: DetectionDataset) -> float:
    return 1.0 if dataset.is_xml else 0.0


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_results(path: str | Path) -> list[dict]:
    """Read and check a results file; a malformed one is a one-line :class:`DatasetError`."""
    path = Path(path)
    dets = read_json(path)
    if not isinstance(dets, list):
        raise DatasetError(f"{path}: expected a JSON list of detections, got {type(dets).__name__}")
    for i, d in enumerate(dets):
        ok = isinstance(d, dict) and {"image_id", "category_id", "bbox", "score"} <= d.keys()
        bbox = d.get("bbox") if ok else None
        if not ok or not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise DatasetError(
                f"{path}: detection {i} is not {{image_id, category_id, bbox: [x, y, w, h], score}}: {d!r:.120}"
            )
        for key in ("image_id", "category_id"):
            if isinstance(d[key], bool) or not isinstance(d[key], (int, str)):
                raise DatasetError(f"{path}: detection {i} has {key} {d[key]!r:.60}: expected a number or a string")
        if not _is_number(d["score"]):
            raise DatasetError(f"{path}: detection {i} has a non-numeric score {d['score']!r}")
        if not all(math.isfinite(v) for v in (*bbox, d["score"])):
            raise DatasetError(f"{path}: detection {i} has a NaN or infinite score or coordinate: {d!r:.120}")
    return dets


def results_to_arrays(
    dets: list[dict], dataset: DetectionDataset, lenient: bool = False, source: str = "detections"
) -> tuple[DetectionArrays, Counter]:
    """Map results entries onto the dataset. Unknown images or classes raise a one-line
    :class:`DatasetError`, or with ``lenient`` are dropped and counted in the returned Counter."""
    img_of = {r.image_id: i for i, r in enumerate(dataset.records)}
    label_of = dataset.label_of_category()
    if dataset.is_xml:  # XML ids are strings; accept numbers written for them too
        img_of.update({str(k): v for k, v in list(img_of.items())})
    dropped: Counter = Counter()
    img = np.fromiter((img_of.get(d["image_id"], -1) for d in dets), np.int64, len(dets))
    lab = np.fromiter((label_of.get(d["category_id"], -1) for d in dets), np.int64, len(dets))
    for arr, what, key in ((img, "image", "image_id"), (lab, "class", "category_id")):
        bad = np.flatnonzero(arr < 0)
        if len(bad):
            example = dets[bad[0]][key]
            if not lenient:
                raise DatasetError(
                    f"{source}: {len(bad)} detections name an unknown {what} (e.g. {key} {example!r} is not in "
                    f"{dataset.name}); fix the file or pass --lenient to drop them"
                )
            dropped[f"detections for an unknown {what} dropped"] += len(bad)
    keep = (img >= 0) & (lab >= 0)
    xywh = np.array([d["bbox"] for d in dets], np.float64).reshape(-1, 4)
    scores = np.array([d["score"] for d in dets], np.float64)
    off = _offset(dataset)
    boxes = np.concatenate([xywh[:, :2] - off, xywh[:, :2] - off + xywh[:, 2:]], 1)
    arrays = DetectionArrays(img[keep], lab[keep], scores[keep], boxes[keep], np.flatnonzero(keep))
    return arrays, dropped


def arrays_to_results(dataset: DetectionDataset, arrays: DetectionArrays) -> list[dict]:
    """The inverse of :func:`results_to_arrays`: internal detections -> results entries."""
    off = _offset(dataset)
    out = []
    for i, lab, s, b in zip(
        arrays.image_idx.tolist(),
        arrays.labels.tolist(),
        arrays.scores.tolist(),
        np.asarray(arrays.boxes).tolist(),
        strict=True,
    ):
        out.append(
            {
                "image_id": dataset.records[i].image_id,
                "category_id": dataset.category_ids[lab - 1],
                "bbox": [b[0] + off, b[1] + off, b[2] - b[0], b[3] - b[1]],
                "score": float(s),
            }
        )
    return out


def write_results(path: str | Path, results: list[dict]) -> Path:
    """Detections (COCO results format) as JSON, atomically."""
    return write_json(path, results, indent=None)
