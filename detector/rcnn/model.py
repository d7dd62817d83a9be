"""The region classifier: GoogLeNet plus a (K+1)-way classifier and class-specific box regression.

Two ways to get a region's 1024-d feature (``mode``), sharing everything else:

- ``rcnn`` (the paper): each region, dilated for context, is warped to ``input_size`` (all of a
  batch in one ``roi_align``, :mod:`.warp`) and runs through the whole network.
- ``fast`` (Fast R-CNN's way, beyond the paper): the trunk runs once per image up to
  ``roi_tap`` (``inception_4e``, stride 16), RoIAlign pools each region to ``roi_size`` and the
  remaining layers (pool, ``inception_5a``, ``inception_5b``) run per region; with ``roi_tap:
  inception_5b`` only the global pool and the heads do. With several ``image_scales`` (SPPnet's
  and Fast R-CNN's multi-scale mode) the trunk runs on the image at each scale and each region is
  pooled from the scale at which it spans closest to ``roi_size`` cells (:func:`assign_levels`),
  so that, as in ``rcnn``'s warp, every region reaches the head at about one size.

Both end in the backbone's global average pool and dropout, then ``cls_score`` (``[R, K+1]``
logits, background = 0) and ``bbox_pred`` (``[R, K+1, 4]`` deltas of :mod:`.boxes`; row 0 unused).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from backbones import TAPS, GoogLeNet, for_inference
from backbones.inference import InferenceGoogLeNet

from ..config import NonNegFloat, PositiveFloat, PositiveInt
from ..errors import UserError
from .warp import warp_regions

MIN_TRUNK_SIDE = 32  # the smallest input side the paper network's pools accept (the bn one: 15)


@dataclass
class HeadConfig:
    mode: Literal["rcnn", "fast"] = "rcnn"
    input_size: PositiveInt = 224  # rcnn: regions are warped to input_size x input_size
    context: NonNegFloat = 16.0  # rcnn: pixels of context around the region at input_size
    warp_antialias: bool = False  # rcnn: False is R-CNN's bilinear warp; True averages when shrinking
    image_size: PositiveInt = 600  # fast: images resized so the shorter side is image_size ...
    max_image_size: PositiveInt = 1000  # ... and the longer at most this
    train_sizes: tuple[PositiveInt, ...] = ()  # fast, training only: each image's shorter side drawn from
    # these (Fast R-CNN's scale jitter; the longer side's limit scales alike); () = image_size
    roi_tap: str = "inception_4e"  # fast: the feature map RoIAlign pools from
    roi_size: PositiveInt = 8  # fast: RoIAlign output; 8 -> 4x4 after the 5a pool (14 -> 7x7 is the 224 px
    # geometry but costs 3.5x as much per region: tools/benchmark.py detect)
    roi_dilation: PositiveFloat = 1.0  # fast: each RoI's half-sides grow by this before pooling, for context
    # around the object as rcnn's warp has (rcnn's 4.5 px at 64: 64 / 55 = 1.16)
    image_scales: tuple[PositiveFloat, ...] = (1.0,)  # fast: the trunk runs on the (image_size) image
    # resized by each factor; each RoI is pooled from the one where it spans closest to roi_size cells
    box_regression: bool = True
    frozen_bn: bool = False  # keep BatchNorm statistics and affine fixed while fine-tuning
    region_chunk: PositiveInt = 128  # inference: regions per backbone batch


def check_head(cfg: HeadConfig) -> None:
    """Raise a :class:`UserError` naming the ``head.*`` key of the first bad setting; called
    before any work (proposals), and again when a :class:`RegionDetector` is built."""
    if cfg.mode not in ("rcnn", "fast"):
        raise UserError(f"head.mode must be 'rcnn' or 'fast', got {cfg.mode!r}")
    if cfg.mode == "rcnn":  # the settings below are fast's
        return
    if not cfg.image_scales or min(cfg.image_scales) <= 0:
        raise UserError(f"head.image_scales must be positive factors, got {cfg.image_scales!r}")
    if any(s <= 0 for s in cfg.train_sizes):
        raise UserError(f"head.train_sizes must be positive pixel sizes, got {cfg.train_sizes!r}")
    if cfg.roi_tap not in TAPS:
        raise UserError(f"head.roi_tap {cfg.roi_tap!r} is not a feature tap; available: {list(TAPS)}")


class RegionDetector(nn.Module):
    def __init__(self, backbone: GoogLeNet | InferenceGoogLeNet, num_classes: int, cfg: HeadConfig):
        super().__init__()
        check_head(cfg)
        taps = {f.name: f.stride for f in backbone.feature_info}
        if isinstance(backbone, GoogLeNet):  # (an InferenceGoogLeNet from fold_for_inference has neither)
            backbone.fc = nn.Identity()  # forward_head then gives the pooled (dropped-out) feature
            backbone.aux1 = backbone.aux2 = None
        self.backbone = backbone
        self.cfg = cfg
        self.num_classes = num_classes
        self.stride = taps.get(cfg.roi_tap, 16)
        self.amp_dtype: torch.dtype | None = None  # bfloat16: predict() under autocast (precision bf16)
        self.cls_score = nn.Linear(1024, num_classes + 1)
        self.bbox_pred = nn.Linear(1024, 4 * (num_classes + 1)) if cfg.box_regression else None
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.zeros_(self.cls_score.bias)
        if self.bbox_pred is not None:
            nn.init.normal_(self.bbox_pred.weight, std=0.001)
            nn.init.zeros_(self.bbox_pred.bias)
        if cfg.frozen_bn:
            for m in self.backbone.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.cls_score.weight.device

    def train(self, mode: bool = True):
        super().train(mode)
        if self.cfg.frozen_bn:
            for m in self.backbone.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def _format(self, x: torch.Tensor) -> torch.Tensor:
        w = next(self.backbone.parameters())
        cl = w.dim() == 4 and w.is_contiguous(memory_format=torch.channels_last) and w.shape[-1] > 1
        return x.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        """``fast``: ``[B, 3, H, W]`` -> the ``roi_tap`` map ``[B, C, H/stride, W/stride]``."""
        return self.backbone.forward_features(self._format(images), (self.cfg.roi_tap,))[self.cfg.roi_tap]

    def levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``fast``: the :meth:`trunk` map of ``images`` at each of ``image_scales`` (module doc)."""
        return [self.trunk(scale_images(images, f)) for f in self.cfg.image_scales]

    def region_features(
        self, images: torch.Tensor, rois: torch.Tensor, fmaps: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``[B, 3, H, W]`` normalized images and ``[R, 5]`` rois ``(batch index, x1, y1, x2,
        y2)`` in their pixel frame -> ``[R, 1024]`` features. ``fast`` reuses ``fmaps`` (from
        :meth:`levels`) when given."""
        c = self.cfg
        if c.mode == "rcnn":
            crops = warp_regions(images, rois, c.input_size, c.context, c.warp_antialias)
            x = self.backbone.forward_features(self._format(crops))["inception_5b"]
        else:
            fmaps = self.levels(images) if fmaps is None else fmaps
            x = self._format(pool_levels(fmaps, rois, c, self.stride))
            x = x if c.roi_tap == "inception_5b" else self.backbone.forward_from(x, c.roi_tap)
        return self.backbone.forward_head(x)

    def heads(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[R, 1024]`` -> ``(logits [R, K+1], deltas [R, K+1, 4] or None)``."""
        k1 = self.num_classes + 1  # an explicit shape: 0 regions give [0, K+1, 4], not an error
        deltas = None if self.bbox_pred is None else self.bbox_pred(feats).unflatten(1, (k1, 4))
        return self.cls_score(feats), deltas

    def forward(self, images: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.heads(self.region_features(images, rois))

    def _warp(self, images: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():  # also when run in the prefetch thread (the mode is per thread)
            c = self.cfg
            return self._format(warp_regions(images, rois, c.input_size, c.context, c.warp_antialias))

    def _chunk_features(self, images: torch.Tensor, chunks: list[torch.Tensor]):
        """Yield ``[R_k, 1024]`` features of each chunk of ``[R_k, 5]`` rois. ``rcnn`` on the CPU
        warps chunk ``k+1`` in a second thread while the network runs on chunk ``k`` (the warp
        is single-threaded in torchvision); ``fast`` runs the trunk once."""
        if self.cfg.mode == "fast" or images.device.type != "cpu" or len(chunks) < 2:
            fmaps = self.levels(images) if self.cfg.mode == "fast" else None
            for rois in chunks:
                yield self.region_features(images, rois, fmaps)
            return
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(self._warp, images, chunks[0])
            for k in range(len(chunks)):
                crops = pending.result()
                if k + 1 < len(chunks):
                    pending = pool.submit(self._warp, images, chunks[k + 1])
                yield self.backbone.forward_head(self.backbone.forward_features(crops)["inception_5b"])

    @torch.inference_mode()
    def predict(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Score one image's regions in chunks of ``region_chunk``.

        Args:
            image: ``[3, H, W]`` normalized, in the frame of ``boxes`` (``[N, 4]`` xyxy).
        Returns:
            ``(probabilities [N, K+1], deltas [N, K+1, 4] or None)``, float32.
        """
        if not len(boxes):  # an image without proposals: nothing to score, no network run
            k1 = self.num_classes + 1
            return image.new_zeros(0, k1), (None if self.bbox_pred is None else image.new_zeros(0, k1, 4))
        chunks = [torch.cat([c.new_zeros(len(c), 1), c], 1) for c in boxes.split(max(1, self.cfg.region_chunk))]
        probs, deltas = [], []
        amp = self.amp_dtype or (torch.float16 if image.is_cuda else None)  # float16 convolutions on a GPU
        with torch.autocast(image.device.type, amp or torch.float32, enabled=amp is not None):
            for feats in self._chunk_features(image[None], chunks):
                logits, d = self.heads(feats)
                probs.append(logits.float().softmax(1))
                deltas.append(None if d is None else d.float())
        return torch.cat(probs), (None if self.bbox_pred is None else torch.cat(deltas))


def scale_images(images: torch.Tensor, factor: float) -> torch.Tensor:
    """``[B, 3, H, W]`` -> resized by ``factor`` (bilinear, antialiased when shrinking; at least
    ``MIN_TRUNK_SIDE`` pixels a side); ``factor`` 1 returns ``images`` itself."""
    if factor == 1.0:
        return images
    h, w = images.shape[-2:]
    size = (max(MIN_TRUNK_SIDE, round(h * factor)), max(MIN_TRUNK_SIDE, round(w * factor)))
    return F.interpolate(images, size=size, mode="bilinear", antialias=factor < 1, align_corners=False)


def assign_levels(rois: torch.Tensor, scales: tuple[float, ...], cells: float) -> torch.Tensor:
    """``[R, 5]`` rois -> ``[R]`` index into ``scales``: the scale at which the box's side
    (``sqrt(w h)``, its pixels) is closest, in ratio, to ``cells`` pixels (roi_size x stride)."""
    side = ((rois[:, 3] - rois[:, 1]).clamp(min=1e-3) * (rois[:, 4] - rois[:, 2]).clamp(min=1e-3)).sqrt()
    logs = torch.log(torch.tensor(scales, dtype=side.dtype, device=side.device))
    return (side.log()[:, None] + logs[None, :] - math.log(cells)).abs().argmin(1)


def pool_regions(
    fmap: torch.Tensor, rois: torch.Tensor, cfg: HeadConfig, stride: int, factor: float = 1.0
) -> torch.Tensor:
    """``fast``: ``[B, C, h, w]`` feature map of the image resized by ``factor`` and ``[R, 5]``
    rois in the image's pixels -> ``[R, C, roi_size, roi_size]``: each box dilated by
    ``roi_dilation`` about its center, then RoIAligned (2x2 samples a bin, pixel-aligned)."""
    if cfg.roi_dilation != 1.0:
        c = (rois[:, 1:3] + rois[:, 3:]) / 2
        half = (rois[:, 3:] - rois[:, 1:3]) / 2 * cfg.roi_dilation
        rois = torch.cat([rois[:, :1], c - half, c + half], 1)
    return roi_align(fmap, rois, (cfg.roi_size, cfg.roi_size), factor / stride, sampling_ratio=2, aligned=True)


def pool_levels(fmaps: list[torch.Tensor], rois: torch.Tensor, cfg: HeadConfig, stride: int) -> torch.Tensor:
    """:func:`pool_regions` of each roi from its level (:func:`assign_levels`), in ``rois``' order;
    ``fmaps`` holds the maps at ``cfg.image_scales``."""
    if len(fmaps) == 1:
        return pool_regions(fmaps[0], rois, cfg, stride, cfg.image_scales[0])
    level = assign_levels(rois, cfg.image_scales, cfg.roi_size * stride)
    out = fmaps[0].new_empty(len(rois), fmaps[0].shape[1], cfg.roi_size, cfg.roi_size)
    for k, (fmap, factor) in enumerate(zip(fmaps, cfg.image_scales, strict=True)):
        idx = torch.nonzero(level == k).squeeze(1)
        if len(idx):
            out[idx] = pool_regions(fmap, rois[idx], cfg, stride, factor)
    return out


def fold_for_inference(model: RegionDetector, compile: bool = False) -> RegionDetector:
    """An eval-mode copy whose backbone has BN folded and channels_last (:func:`backbones.for_inference`,
    compiled with ``compile``); ``model`` is left untouched."""
    return with_backbone(model, for_inference(model.backbone, compile=compile))


def with_backbone(model: RegionDetector, backbone) -> RegionDetector:
    """A copy of ``model`` (eval, frozen) on ``backbone``, built by the constructor with the heads'
    weights copied."""
    clone = RegionDetector(backbone, model.num_classes, model.cfg)
    clone.cls_score.load_state_dict(model.cls_score.state_dict())
    if model.bbox_pred is not None:
        clone.bbox_pred.load_state_dict(model.bbox_pred.state_dict())
    return clone.eval().requires_grad_(False)
