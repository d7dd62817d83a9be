"""Ensembles of detectors and test-time views: averaged region scores, or fused detections.

An :class:`Ensemble` of one or more checkpoints scores an image's proposals in every view
(:mod:`.views`: the image itself, and its flips or quarter turn with ``tta``): each model sees the
image in its own frame (:func:`~.data.prepare_image`), and the class probabilities and box
regressions (scale-free, relative to the proposal, mapped back from each view) are averaged,
weighted by member, before decoding and per-class NMS, as the paper's ensemble of 6 networks did.
Box regressions average over the members that have them.

Members that do not share proposals (``fusion``, :mod:`.fusion`) are given one proposal set per
*source* (``source_of[m]`` names member ``m``'s): ``union`` scores the union with every member;
``wbf``, ``nmw`` and ``soft_nms`` let each member detect on its own set, then fuse the lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import UserError
from ..structures import Detections
from .data import prepare_image
from .fusion import DETECTION_FUSIONS, FusionConfig, check_fusion, fuse_detections, union_proposals
from .postprocess import PostprocessConfig, postprocess
from .predict import LoadedDetector
from .views import parse_views

Scores = tuple[torch.Tensor, torch.Tensor | None]  # (probabilities [N, K+1], deltas [N, K+1, 4] or None)


def average_scores(outputs: Sequence[Scores], weights: Sequence[float] | None = None) -> Scores:
    """Members' ``(probs, deltas)`` over the same proposals -> their weighted mean; deltas over
    the members that have them (their weights renormalized), None when none has."""
    w = torch.ones(len(outputs)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    probs = sum(wi * p for wi, (p, _) in zip(w, outputs, strict=True)) / w.sum()
    with_deltas = [(wi, d) for wi, (_, d) in zip(w, outputs, strict=True) if d is not None]
    if not with_deltas:
        return probs, None
    return probs, sum(wi * d for wi, d in with_deltas) / sum(wi for wi, _ in with_deltas)


class Ensemble:
    """One or more detectors over the same classes, in one or more views (see the module doc).

    Args:
        members: loaded checkpoints, same classes.
        test: post-processing settings (default: the first member's ``test``); its ``tta``
            names the views when ``tta`` is None.
        tta: extra views (``hflip``, ``vflip``, ``rot90``) beside the image itself.
        weights: one non-negative weight per member (default: equal).
        fusion: ``average`` (one shared proposal set) or one of :data:`.fusion.FUSIONS`.
        source_of: member -> index of its proposal set when ``fusion`` is not ``average``.
    """

    def __init__(
        self, members: list[LoadedDetector], test: PostprocessConfig | None = None, tta: Sequence[str] | None = None,
        weights: Sequence[float] | None = None, fusion: str = "average", source_of: Sequence[int] | None = None,
        fusion_cfg: FusionConfig | None = None,
    ):  # fmt: skip
        if not members:
            raise ValueError("an ensemble needs at least one detector")
        for m in members[1:]:
            if m.class_names != members[0].class_names:
                raise UserError(
                    f"{m.path}: its classes differ from {members[0].path}'s; an ensemble needs the same classes"
                )
        check_fusion(fusion)
        if weights is not None and (len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0):
            raise UserError(f"member weights {list(weights)}: give {len(members)} non-negative numbers, not all 0")
        self.members = members
        self.test = test or members[0].cfg.test
        self.views = parse_views(self.test.tta if tta is None else tta)
        self.weights = None if weights is None else [float(w) for w in weights]
        self.fusion, self.fusion_cfg = fusion, fusion_cfg or FusionConfig()
        self.source_of = list(source_of) if source_of is not None else [0] * len(members)
        self.class_names = members[0].class_names
        self.display_names = members[0].display_names

    @property
    def device(self) -> torch.device:
        return self.members[0].model.device

    @torch.inference_mode()
    def member_scores(self, m: LoadedDetector, image: torch.Tensor, proposals: torch.Tensor) -> Scores:
        """Member ``m``'s ``(probs [N, K+1], deltas [N, K+1, 4] or None)`` for ``[N, 4]``
        ``proposals`` of the ``[3, H, W]`` normalized ``image``, averaged over the views, on the CPU."""
        h, w = image.shape[1:]
        outputs = []
        for view in self.views:
            x, scale = prepare_image(view.image(image.to(self.device)), m.cfg.head)
            boxes = view.boxes(proposals.to(self.device), h, w) * scale
            p, d = m.model.predict(x, boxes)
            outputs.append((p.cpu(), None if d is None else view.deltas_back(d.cpu())))
        return average_scores(outputs)

    def score(self, image: torch.Tensor, proposals: torch.Tensor) -> Scores:
        """``[3, H, W]`` normalized image and ``[N, 4]`` proposals in its pixel frame -> the
        members' weighted mean ``(probabilities [N, K+1], deltas [N, K+1, 4] or None)``, CPU."""
        return average_scores([self.member_scores(m, image, proposals) for m in self.members], self.weights)

    def member_boxes(self, proposals: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The ``[N_m, 4]`` proposals each member scores, from ``[N, 4]`` shared by all or one set
        per source: its own source's (detection fusions), or the union (``union``), or the one set."""
        sets = [proposals] if isinstance(proposals, torch.Tensor) else list(proposals)
        if self.fusion in DETECTION_FUSIONS:
            return [sets[s] for s in self.source_of]
        if len(sets) > 1 and self.fusion == "average":
            raise UserError("several proposal sets need fusion 'union', 'wbf', 'nmw' or 'soft_nms'")
        boxes = union_proposals(sets) if len(sets) > 1 else sets[0]
        return [boxes] * len(self.members)

    def detections(
        self, scores: Sequence[Scores], boxes: Sequence[torch.Tensor], height: int, width: int,
        weights: Sequence[float] | None = None,
    ) -> Detections:  # fmt: skip
        """Members' :data:`Scores`, each over its ``boxes`` (:meth:`member_boxes`) -> one ``height x
        width`` image's detections: each member's fused (detection fusions), or the weighted
        average post-processed; ``weights`` default to the ensemble's."""
        weights = self.weights if weights is None else weights
        if self.fusion in DETECTION_FUSIONS:
            dets = [postprocess(*s, b, height, width, self.test) for s, b in zip(scores, boxes, strict=True)]
            return fuse_detections(dets, height, width, self.fusion, weights, self.fusion_cfg, self.test.max_dets)
        return postprocess(*average_scores(scores, weights), boxes[0], height, width, self.test)

    def detect(self, image: torch.Tensor, proposals: torch.Tensor | Sequence[torch.Tensor]) -> Detections:
        """Detections of one image, in its pixel frame (``image`` ``[3, H, W]`` normalized);
        ``proposals``: ``[N, 4]`` shared by all members, or one set per source (``fusion``)."""
        boxes = self.member_boxes(proposals)
        scores = [self.member_scores(m, image, b) for m, b in zip(self.members, boxes, strict=True)]
        return self.detections(scores, boxes, *image.shape[1:])
