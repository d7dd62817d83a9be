"""Test-time augmentation: the views a detector scores each image in, and the way back.

A view turns the ``[3, H, W]`` image and its ``[N, 4]`` xyxy proposals (continuous pixel frame:
a box spans ``x1 <= x < x2``, width ``x2 - x1``) into the view's frame; the detector scores the
same proposals there, and :meth:`View.deltas_back` maps the box regressions (:mod:`.boxes`,
relative to the proposal) back to the original frame, so that probabilities and deltas of every
view average exactly as an ensemble's members do (:class:`.ensemble.Ensemble`), before NMS.

- ``hflip``: ``x -> W - x``; a box's centre offset ``dx`` changes sign.
- ``vflip``: ``y -> H - y``; ``dy`` changes sign.
- ``rot90``: a quarter turn counter-clockwise (``torch.rot90`` over ``H, W``), for views without
  an up (microscopy, aerial): ``(x, y) -> (y, W - x)``, the image becomes ``[3, W, H]``; the
  view's ``(dx, dy, dw, dh)`` are the original's ``(dy, -dx, dh, dw)``.

Mapping the deltas back is exact: decoding them on the original proposals gives the view's decoded
boxes mapped back (tests/detector/rcnn/test_views.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import UserError
from .boxes import BOX_WEIGHTS

VIEWS = ("hflip", "vflip", "rot90")  # beside the identity, which every TTA includes


class View:
    """One test-time view (see the module doc); ``name`` is ``identity`` or one of :data:`VIEWS`."""

    def __init__(self, name: str):
        if name != "identity" and name not in VIEWS:
            raise UserError(f"test-time augmentation {name!r} is not available; choose from {list(VIEWS)}")
        if name == "rot90" and (BOX_WEIGHTS[0] != BOX_WEIGHTS[1] or BOX_WEIGHTS[2] != BOX_WEIGHTS[3]):
            raise ValueError("rot90 swaps x and y deltas, which needs equal x/y box weights")
        self.name = name

    def __repr__(self) -> str:
        return f"View({self.name!r})"

    def image(self, image: torch.Tensor) -> torch.Tensor:
        """``[3, H, W]`` -> the view's image (``[3, W, H]`` for ``rot90``)."""
        if self.name == "hflip":
            return image.flip(-1)
        if self.name == "vflip":
            return image.flip(-2)
        if self.name == "rot90":
            return torch.rot90(image, 1, (-2, -1))
        return image

    def boxes(self, boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """``[..., 4]`` xyxy in the ``height x width`` original -> the same boxes in the view."""
        x1, y1, x2, y2 = boxes.unbind(-1)
        if self.name == "hflip":
            return torch.stack([width - x2, y1, width - x1, y2], -1)
        if self.name == "vflip":
            return torch.stack([x1, height - y2, x2, height - y1], -1)
        if self.name == "rot90":
            return torch.stack([y1, width - x2, y2, width - x1], -1)
        return boxes

    def boxes_back(self, boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """``[..., 4]`` xyxy in the view of a ``height x width`` original -> the original frame."""
        x1, y1, x2, y2 = boxes.unbind(-1)
        if self.name == "rot90":  # view (u, v) = (y, W - x): x = W - v, y = u
            return torch.stack([width - y2, x1, width - y1, x2], -1)
        return self.boxes(boxes, height, width)  # the flips are their own inverses

    def deltas_back(self, deltas: torch.Tensor | None) -> torch.Tensor | None:
        """``[..., 4]`` regressions ``(dx, dy, dw, dh)`` relative to a proposal in the view -> the
        same regressions relative to the proposal in the original frame."""
        if deltas is None or self.name == "identity":
            return deltas
        dx, dy, dw, dh = deltas.unbind(-1)
        if self.name == "hflip":
            return torch.stack([-dx, dy, dw, dh], -1)
        if self.name == "vflip":
            return torch.stack([dx, -dy, dw, dh], -1)
        return torch.stack([-dy, dx, dh, dw], -1)  # rot90: the view's dx is the original's dy


def parse_views(tta: Sequence[str] | str | None) -> list[View]:
    """``["hflip", "vflip"]`` or ``"hflip,vflip"`` (None or empty: none) -> the identity view
    followed by those views, each once; an unknown name is a one-line :class:`UserError`."""
    if isinstance(tta, str):
        tta = [t for t in tta.split(",") if t.strip()]
    names = [t.strip() for t in tta or ()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"test-time augmentation {dupes} named twice")
    return [View("identity"), *(View(n) for n in names if n != "identity")]
