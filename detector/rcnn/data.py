"""Detection data for the region classifier: images, their proposals and sampled regions.

Training items: the image is read (RGB), flipped (and, when asked, rotated by multiples of 90
degrees) and colour-jittered by albumentations together with its ground-truth boxes and its
proposals, normalized, brought to the head's frame
(:func:`prepare_image`: unchanged for ``rcnn``, resized for ``fast``, to a size drawn from
``train_sizes`` when given), and its regions sampled
(:mod:`.sampling`). Augmentation and sampling of item ``i`` in epoch ``e`` are seeded by
``(seed, e, i)``, so they do not depend on worker or process layout. An unreadable image is
skipped and counted, never fatal. Test items: the normalized image at its original size and
its proposals.
"""

from __future__ import annotations

from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F

from ..config import NonNegInt, Probability
from ..data.augment import flip_and_jitter
from ..data.dataset import RecordDataset
from ..data.images import ImageError, read_image, read_rgb, to_tensor
from ..data.records import ImageRecord
from ..engine.sampler import sample_seed
from ..proposals.cache import ProposalCache
from .model import MIN_TRUNK_SIDE, HeadConfig
from .sampling import Regions, SamplingConfig, label_regions, sample_regions, sample_step


def prepare_image(image: torch.Tensor, cfg: HeadConfig, size: int | None = None) -> tuple[torch.Tensor, float]:
    """``[3, H, W]`` normalized image -> ``(image in the head's frame, scale)``: ``fast`` resizes
    so the shorter side is ``size`` (default ``image_size``; the longer at most
    ``max_image_size`` times ``size / image_size``); boxes scale by the same factor. A side still
    under ``MIN_TRUNK_SIDE`` (a very elongated image) is padded with zeros (the mean pixel) at the
    bottom or right, which moves no box. ``rcnn`` warps from the original pixels (scale 1)."""
    if cfg.mode != "fast":
        return image, 1.0
    h, w = image.shape[-2:]
    side = cfg.image_size if size is None else size
    scale = min(side / min(h, w), cfg.max_image_size * side / cfg.image_size / max(h, w))
    hw = (max(1, round(h * scale)), max(1, round(w * scale)))
    if hw == (h, w):
        out, scale = image, 1.0
    else:
        out = F.interpolate(image[None], size=hw, mode="bilinear", antialias=True, align_corners=False)[0]
    short = (max(0, MIN_TRUNK_SIDE - out.shape[-1]), max(0, MIN_TRUNK_SIDE - out.shape[-2]))
    if any(short):
        out = F.pad(out, (0, short[0], 0, short[1]))
    return out, scale


def clean_proposals(boxes: np.ndarray, width: int, height: int, limit: int | None) -> np.ndarray:
    """The first ``limit`` boxes clipped to the image, without those under 1 pixel wide or high."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)[:limit]
    b = np.clip(b, 0, [width, height, width, height]).astype(np.float32)
    return b[(b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)]


def clean_ground_truth(record: ImageRecord, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A record's boxes clipped to the image, without those under 1 pixel wide or high:
    ``(boxes [G, 4] float32, labels [G], ignore [G] bool: difficult or crowd)``."""
    b = np.clip(record.boxes.reshape(-1, 4), 0, [width, height, width, height]).astype(np.float32)
    valid = (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)
    return b[valid], record.labels[valid], (record.difficult | record.iscrowd)[valid]


@dataclass
class DetDataConfig:
    workers: NonNegInt = 2
    hflip: Probability = 0.5
    photometric: Probability = 0.5  # probability of colour jitter (brightness, contrast, saturation, hue)
    vflip: Probability = 0.0  # probability of a vertical flip (views without an up: microscopy, aerial)
    rotate90: Probability = 0.0  # probability of a rotation by 90, 180 or 270 degrees (likewise)


class RegionTrainDataset(RecordDataset):
    """Items ``(image [3, H, W], Regions in that frame, path)``, or ``(None, None, path)`` for an
    unreadable image."""

    def __init__(
        self, records: list[ImageRecord], cache: ProposalCache, head: HeadConfig, sampling: SamplingConfig,
        data: DetDataConfig, regions_per_image: int, max_proposals: int, seed: int = 0,
    ):  # fmt: skip
        super().__init__(records)
        self.cache, self.head, self.sampling = cache, head, sampling
        self.num, self.max_proposals, self.seed = regions_per_image, max_proposals, seed
        self.transform = A.Compose(
            flip_and_jitter(data.hflip, data.photometric, data.vflip, data.rotate90),
            bbox_params=A.BboxParams(format="pascal_voc", label_fields=["ids"], clip=True, min_area=0.0),
        )

    def __getitem__(self, i: int):
        r = self.records[i]
        img = read_rgb(r.file)
        if img is None:
            return None, None, str(r.file)
        h, w = img.shape[:2]
        raw = self.cache.boxes_for(r)
        if raw is None:  # its proposals failed: skipped like an unreadable image
            return None, None, str(r.file)
        props = clean_proposals(raw, w, h, self.max_proposals)
        gt, gt_labels, gt_ignore = clean_ground_truth(r, w, h)
        seed = sample_seed(self.seed, self.epoch, i)
        self.transform.set_random_seed(seed)
        out = self.transform(image=img, bboxes=np.concatenate([gt, props]), ids=np.arange(len(gt) + len(props)))
        boxes = np.asarray(out["bboxes"], np.float32).reshape(-1, 4)
        ids = np.asarray(out["ids"], np.int64)
        is_gt = ids < len(gt)
        rng = np.random.default_rng(seed)
        size = int(rng.choice(self.head.train_sizes)) if self.head.train_sizes else None
        image, scale = prepare_image(to_tensor(out["image"]), self.head, size)
        args = (torch.from_numpy(boxes[~is_gt] * scale), torch.from_numpy(boxes[is_gt] * scale),
                torch.from_numpy(gt_labels[ids[is_gt]]).long(), torch.from_numpy(gt_ignore[ids[is_gt]]).bool())  # fmt: skip
        if self.sampling.per == "step":  # every labelled region: the collate function draws the step's
            regions = label_regions(*args, self.sampling)
        else:
            regions = sample_regions(*args, self.num, self.sampling, rng)
        regions.seed = seed
        return image, regions, str(r.file)


@dataclass
class RegionBatch:
    """Images padded to a common size (zero = the mean pixel) and their regions concatenated."""

    images: torch.Tensor  # [B, 3, H, W]
    rois: torch.Tensor  # [R, 5] (batch index, x1, y1, x2, y2)
    labels: torch.Tensor  # [R]
    targets: torch.Tensor  # [R, 4]
    reg_mask: torch.Tensor  # [R]
    skipped: list[str]


def pad_images(images: list[torch.Tensor]) -> torch.Tensor:
    """``[3, H_i, W_i]`` images -> ``[B, 3, max H, max W]``, each at the top left, zeros elsewhere."""
    if not images:
        return torch.zeros(0, 3, 1, 1)
    h, w = max(x.shape[1] for x in images), max(x.shape[2] for x in images)
    out = images[0].new_zeros(len(images), 3, h, w)
    for k, x in enumerate(images):
        out[k, :, : x.shape[1], : x.shape[2]] = x
    return out


def collate_regions(items: list, step: tuple[int, SamplingConfig] | None = None) -> RegionBatch:
    """Items of :class:`RegionTrainDataset` -> a batch. ``step`` = ``(regions per image, sampling)``
    for ``sampling.per: step``: the items hold every labelled region, and the batch's (regions per
    image x its readable images) are drawn here over all of them together, seeded by the items'
    seeds (so reproducible wherever it runs)."""
    good = [(x, reg) for x, reg, _ in items if x is not None]
    regs: list[Regions] = [reg for _, reg in good]
    if step is not None and regs:
        regs = sample_step(regs, step[0] * len(regs), step[1], np.random.default_rng([r.seed for r in regs]))
    idx = torch.cat([torch.full((len(reg.boxes), 1), float(k)) for k, reg in enumerate(regs)]) if regs else None
    return RegionBatch(
        images=pad_images([x for x, _ in good]),
        rois=torch.cat([idx, torch.cat([r.boxes for r in regs])], 1) if regs else torch.zeros(0, 5),
        labels=torch.cat([r.labels for r in regs]) if regs else torch.zeros(0, dtype=torch.int64),
        targets=torch.cat([r.targets for r in regs]) if regs else torch.zeros(0, 4),
        reg_mask=torch.cat([r.reg_mask for r in regs]) if regs else torch.zeros(0, dtype=torch.bool),
        skipped=[p for x, _, p in items if x is None],
    )


class ProposalImageDataset(RecordDataset):
    """Test items ``(index, image [3, H, W] normalized at its original size, proposals [N, 4]
    xyxy original pixels, None)``, or ``(index, None, None, why)`` for an image that cannot be
    read or has no proposals; ``proposals`` maps a record to its raw boxes, or None when it has
    none (:meth:`~detector.proposals.cache.ProposalCache.boxes_for`), or to a list of such (one
    per proposal source: the item then holds a list of ``[N_s, 4]``)."""

    def __init__(self, records: list[ImageRecord], proposals, max_proposals: int):
        super().__init__(records)
        self.proposals, self.max_proposals = proposals, max_proposals

    def __getitem__(self, i: int):
        r = self.records[i]
        try:
            img = read_image(r.file)
        except ImageError as e:
            return i, None, None, e.reason
        raw = self.proposals(r)
        sets = raw if isinstance(raw, list) else [raw]
        if any(s is None for s in sets):
            return i, None, None, "no proposals (unreadable when they were computed?)"
        h, w = img.shape[:2]
        boxes = [torch.from_numpy(clean_proposals(s, w, h, self.max_proposals)) for s in sets]
        return i, to_tensor(img), (boxes if isinstance(raw, list) else boxes[0]), None
