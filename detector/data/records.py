"""Typed detection records shared by every annotation format.

Coordinate frame (one for the whole code base): boxes are ``[N, 4]`` float32 ``x1, y1, x2, y2``
in absolute pixels, continuous coordinates, where pixel ``i`` covers ``[i, i + 1)``. So a COCO
``[x, y, w, h]`` is ``(x, y, x + w, y + h)``, and a VOC/ILSVRC 1-based inclusive box
``xmin..xmax`` is ``(xmin - 1, ymin - 1, xmax, ymax)``: widths agree in both frames
(``xmax - xmin + 1 == x2 - x1``), which is why the devkits' "+1" IoU equals the plain IoU here.

Labels: background is 0, real classes are ``1..K`` in the order of ``class_names``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

LOG = logging.getLogger("detector.data")
BACKGROUND = 0


class DatasetError(UserError):
    """A dataset that cannot be read at all (malformed file, missing folder): one-line message."""


@dataclass
class ImageRecord:
    """One image and its objects.

    Attributes:
        image_id: COCO's integer id, or the file stem for XML datasets.
        file: the image file.
        width, height: image size in pixels.
        boxes: ``[N, 4]`` float32 xyxy, continuous pixels (see the module docstring).
        labels: ``[N]`` int64 in ``1..K``.
        difficult: ``[N]`` bool, VOC's ``difficult`` flag (ignored by evaluation).
        iscrowd: ``[N]`` bool, COCO's crowd flag (ignored by evaluation).
        truncated: ``[N]`` bool, VOC's ``truncated`` flag, or None where the format has none (COCO).
    """

    image_id: int | str
    file: Path
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    iscrowd: np.ndarray
    truncated: np.ndarray | None = None

    @staticmethod
    def empty_arrays() -> dict[str, np.ndarray]:
        return {
            "boxes": np.zeros((0, 4), np.float32),
            "labels": np.zeros(0, np.int64),
            "difficult": np.zeros(0, bool),
            "iscrowd": np.zeros(0, bool),
        }


@dataclass
class AnnotationLog:
    """Counts what a loader dropped or fixed, warns per file (the first ``max_warnings``) and
    sums up in one line."""

    source: str
    max_warnings: int = 10
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, file: str | Path, detail: str = "", n: int = 1) -> None:
        if n <= 0:
            return
        self.counts[kind] += n
        self.examples.setdefault(kind, [])
        name = Path(file).name
        if len(self.examples[kind]) < 3 and name not in self.examples[kind]:
            self.examples[kind].append(name)
        if sum(self.counts.values()) <= self.max_warnings:
            LOG.warning("%s: %s%s", file, kind, f" ({detail})" if detail else "")

    def summary(self) -> str:
        if not self.counts:
            return f"{self.source}: no annotation problems"
        parts = [
            f"{n} {kind} ({', '.join(self.examples[kind])}{', ...' if n > 3 else ''})"
            for kind, n in self.counts.items()
        ]
        return f"{self.source}: " + "; ".join(parts)


@dataclass
class DetectionDataset:
    """A split's records plus its class list.

    ``class_names[i]`` is the name of label ``i + 1``; ``category_ids[i]`` is the id detection
    results use for it (COCO's sparse id, or the class name as written in the XML).
    ``display_names`` are human-readable names (e.g. from ILSVRC's ``map_det.txt``).
    """

    name: str
    kind: str  # "coco", or the XML layouts "voc" / "ilsvrc"
    records: list[ImageRecord]
    class_names: list[str]
    category_ids: list[int | str]
    log: AnnotationLog
    display_names: list[str] | None = None
    ann_file: Path | None = None  # the COCO JSON, for pycocotools
    supercategories: list[str] | None = None  # COCO's, per class (error analysis groups by them)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def is_xml(self) -> bool:
        """VOC/ILSVRC XML: string image ids, class names as ids, 1-based results boxes."""
        return self.kind != "coco"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def label_of_category(self) -> dict[int | str, int]:
        return {c: i + 1 for i, c in enumerate(self.category_ids)}

    def names_for_report(self) -> list[str]:
        return self.display_names or self.class_names


def stays_inside(name: str) -> bool:
    """Whether ``name`` (an image id, a file name) is a relative path that stays in the folder it
    is joined to: no part empty, ``.`` or ``..`` (so not absolute either), no backslash or NUL.
    ILSVRC's ids name subfolders (``n02672831/n02672831_11478``) and pass; ids become annotation,
    image and proposal-cache file names, so one that fails is refused wherever it is used."""
    return all(p not in ("", ".", "..") for p in name.split("/")) and "\\" not in name and "\0" not in name


def sanitize_boxes(boxes: np.ndarray, width: int, height: int, file: Path, log: AnnotationLog) -> np.ndarray:
    """Boolean keep-mask over ``[N, 4]`` xyxy ``boxes``; clips them to the image in place.

    A box with a NaN or infinite coordinate, or with no extent (``x2 <= x1`` or ``y2 <= y1``, as annotated) is dropped; a box reaching
    outside ``[0, width] x [0, height]`` is clipped, and dropped if nothing is left."""
    keep = np.ones(len(boxes), bool)
    if not len(boxes):
        return keep
    finite = np.isfinite(boxes).all(1)
    log.add("box with a NaN or infinite coordinate dropped", file, n=int((~finite).sum()))
    boxes[~finite] = 0  # dropped below; zeros keep the comparisons quiet
    degenerate = finite & ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    log.add("zero-area or inverted box dropped", file, n=int(degenerate.sum()))
    keep &= finite & ~degenerate
    limits = np.array([width, height, width, height], np.float32)
    outside = keep & ((boxes < 0).any(1) | (boxes > limits).any(1))
    if outside.any():
        np.clip(boxes, 0, limits, out=boxes)
        empty = outside & ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
        log.add("box outside the image clipped", file, n=int((outside & ~empty).sum()))
        log.add("box entirely outside the image dropped", file, n=int(empty.sum()))
        keep &= ~empty
    return keep
