"""One image's detections as the API returns them (:class:`Result`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ..structures import Detections, draw_detections


@dataclass
class Result:
    """Detections of one image, by descending score.

    Frame: ``boxes`` are ``[D, 4]`` float32 ``x1, y1, x2, y2`` in the input image's continuous
    pixel frame (pixel ``i`` covers ``[i, i + 1)``), whatever size the network saw it at.
    ``labels`` are ``[D]`` int64 in ``1..K`` (0 is background and never returned), indexing
    ``class_names`` from 1; ``scores`` are ``[D]`` float32 class probabilities.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    class_names: list[str]  # the detector's K classes
    image: np.ndarray = field(repr=False)  # [H, W, 3] uint8 RGB that was searched
    path: str | None = None  # the file, when the input was one
    num_proposals: int = 0  # regions scored

    def __len__(self) -> int:
        return len(self.scores)

    SHOWN = 3  # detections a repr lists; the rest are counted

    def __repr__(self) -> str:
        """The image, its size and detection count, then the best few as ``class score [x1, y1,
        x2, y2]`` (pixels, one decimal) and how many more; the arrays stay attributes."""
        n = len(self)
        head = f"Result({self.path or 'image'}, {self.width}x{self.height}, {n} detection{'s' * (n != 1)}"
        head += f" from {self.num_proposals} proposals" if self.num_proposals else ""
        rows = [
            f"  {r['class']} {r['score']:.2f} [{', '.join(f'{v:.1f}' for v in r['box'])}]"
            for r in self.rows()[: self.SHOWN]
        ]
        more = [f"  ... and {n - self.SHOWN} more"] if n > self.SHOWN else []
        return "\n".join([head + (":" if n else ")"), *rows, *more]) + (")" if n else "")

    __str__ = __repr__

    @property
    def names(self) -> list[str]:
        """The class name of each detection."""
        return [self.class_names[int(k) - 1] for k in self.labels]

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]

    def to_coco(self, image_id: int | str, category_ids: list[int] | None = None) -> list[dict]:
        """COCO results entries (``bbox`` ``[x, y, w, h]`` in pixels); category ``k`` is
        ``category_ids[k - 1]`` when given, else the label ``k`` itself."""
        cats = category_ids or list(range(1, len(self.class_names) + 1))
        return [
            {"image_id": image_id, "category_id": int(cats[int(k) - 1]),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], "score": float(s)}
            for b, s, k in zip(self.boxes, self.scores, self.labels, strict=True)
        ]  # fmt: skip

    def to_dict(self, drawn: str | Path | None = None) -> dict:
        """The JSON entry ``tools/infer.py`` (and the demo) writes for the image: ``image`` (its
        file), ``width``, ``height``, ``drawn`` (where the drawn copy went), ``proposals`` (regions
        scored) and ``detections`` (:meth:`rows`)."""
        return {"image": self.path, "width": self.width, "height": self.height,
                "drawn": None if drawn is None else str(drawn), "proposals": self.num_proposals,
                "detections": self.rows()}  # fmt: skip

    def rows(self, decimals: int = 1) -> list[dict]:
        """One plain dict per detection: ``label``, ``class``, ``score``, ``box`` (xyxy pixels)."""
        return [
            {"label": int(k), "class": n, "score": round(float(s), 4), "box": [round(float(v), decimals) for v in b]}
            for b, s, k, n in zip(self.boxes, self.scores, self.labels, self.names, strict=True)
        ]

    def draw(self) -> np.ndarray:
        """A copy of the image, ``[H, W, 3]`` uint8 RGB, with each box and ``class score`` drawn."""
        dets = Detections(torch.from_numpy(self.boxes), torch.from_numpy(self.scores), torch.from_numpy(self.labels))
        return draw_detections(self.image, dets, self.class_names)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`draw`'s picture (format from the suffix: .jpg, .png, ...)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(self.draw(), cv2.COLOR_RGB2BGR)):
            raise OSError(f"{path}: could not write the image (unknown suffix or unwritable folder)")
        return path
