"""torchvision's Faster R-CNN models as peers of our detector: built untrained (or, for
``fasterrcnn_googlenet``, on our GoogLeNet trunk from the same ``--init`` as ours), trained for a
fixed time on a :class:`~detector.data.records.DetectionDataset`, run over a split.

``fasterrcnn_googlenet`` is torchvision's ``FasterRCNN`` with our backbone in the C4 layout of
Faster R-CNN's ResNet models: the RPN and RoIAlign (8 x 8) on ``inception_4e`` (stride 16, 832
channels, one anchor map of sizes 32-512 and aspects 0.5, 1, 2), then ``pool4``, ``inception_5a``
and ``5b`` per region and their average (1024) into torchvision's box predictor; 128 regions an
image in training, as ours samples 64.

The training loop is torchvision's reference recipe cut to a time budget: SGD with momentum 0.9,
weight decay 1e-4, a learning rate of 0.02 per 16 images scaled to the batch, warmed up linearly
over the first 5% of the budget and then lowered along half a cosine of the *elapsed time*, so
that the run ends at a learning rate near 0 when the budget is spent, whatever a step costs.
Images are read as RGB in [0, 1] (the models normalize them), flipped horizontally with
probability 0.5, and resized by the models' own transform to ``min_size``/``max_size``.
Boxes are in the dataset's internal frame (continuous pixel xyxy) in and out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign
from tqdm import tqdm

from backbones import GoogLeNet
from backbones.weights import load_weights

from ..backbone import ModelConfig, build_backbone
from ..data.images import read_rgb
from ..data.records import DetectionDataset
from ..eval.results import DetectionArrays
from ..rcnn.data import clean_ground_truth

GOOGLENET_PEER = "fasterrcnn_googlenet"
PEERS = ("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_resnet50_fpn", GOOGLENET_PEER)


@dataclass
class PeerConfig:
    min_size: int = 480  # the models' resize: shorter side (BCCD's 640x480 photos stay native) ...
    max_size: int = 800  # ... and the longer side at most
    batch_size: int = 2
    lr_per_16: float = 0.02  # torchvision's reference rate for 16 images
    warmup: float = 0.05  # fraction of the budget
    score_thresh: float = 0.01  # kept detections, as our test.score_thresh
    max_dets: int = 100


class GoogLeNetTrunk(nn.Module):
    """``[B, 3, H, W]`` -> ``inception_4e`` ``[B, 832, H/16, W/16]`` (the RPN's and RoIAlign's map)."""

    out_channels = 832

    def __init__(self, net: GoogLeNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x, ("inception_4e",))["inception_4e"]


class GoogLeNetRegionHead(nn.Module):
    """Pooled regions ``[R, 832, 8, 8]`` -> ``pool4``, ``inception_5a``, ``5b``, averaged: ``[R, 1024]``."""

    def __init__(self, net: GoogLeNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_from(x, "inception_4e").mean((2, 3))


def build_googlenet_peer(num_classes: int, cfg: PeerConfig, model: ModelConfig, init: str | None) -> FasterRCNN:
    """torchvision's ``FasterRCNN`` on our GoogLeNet (module doc), its trunk from ``init`` as our
    detector's is (classifier layers skipped), or from scratch."""
    net = build_backbone(model)
    if init:
        load_weights(net, init, ignore_head=True, bvlc_mean=model.bvlc_mean)
    net.fc = nn.Identity()
    anchors = AnchorGenerator(sizes=((32, 64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    return FasterRCNN(
        GoogLeNetTrunk(net), num_classes + 1, min_size=cfg.min_size, max_size=cfg.max_size,
        rpn_anchor_generator=anchors, box_roi_pool=MultiScaleRoIAlign(["0"], 8, 2),
        box_head=GoogLeNetRegionHead(net), box_batch_size_per_image=128,
        box_score_thresh=cfg.score_thresh, box_detections_per_img=cfg.max_dets,
    )  # fmt: skip


def build_peer(
    name: str, num_classes: int, cfg: PeerConfig, model: ModelConfig | None = None, init: str | None = None
) -> torch.nn.Module:
    """A torchvision detector for ``num_classes`` object classes plus background: untrained (no
    weights: nothing is downloaded), or for :data:`GOOGLENET_PEER` on our trunk (``model``, ``init``)."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")
    if name == GOOGLENET_PEER:
        return build_googlenet_peer(num_classes, cfg, model or ModelConfig(), init)
    ctor = getattr(torchvision.models.detection, name)
    return ctor(weights=None, weights_backbone=None, num_classes=num_classes + 1, min_size=cfg.min_size,
                max_size=cfg.max_size, box_score_thresh=cfg.score_thresh, box_detections_per_img=cfg.max_dets)  # fmt: skip


def _unit(rgb: np.ndarray) -> torch.Tensor:
    """``[H, W, 3]`` uint8 RGB -> ``[3, H, W]`` float32 in [0, 1] (torchvision's detectors normalize)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def _item(record, flip: bool) -> tuple[torch.Tensor, dict] | None:
    """``([3, H, W]`` in [0, 1], target) of one record, flipped if asked; None if unreadable."""
    rgb = read_rgb(record.file)
    if rgb is None:
        return None
    h, w = rgb.shape[:2]
    boxes, labels, ignore = clean_ground_truth(record, w, h)
    boxes, labels = boxes[~ignore], labels[~ignore]  # torchvision's models take no ignore flags
    image = _unit(rgb)
    if flip:
        image = image.flip(-1)
        boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
    return image, {"boxes": torch.from_numpy(boxes).reshape(-1, 4), "labels": torch.from_numpy(labels).long()}


def lr_at(frac: float, cfg: PeerConfig) -> float:
    """The learning rate when ``frac`` of the time budget has passed (module doc)."""
    base = cfg.lr_per_16 * cfg.batch_size / 16
    warm = min(1.0, (frac + 1e-3) / cfg.warmup) if cfg.warmup > 0 else 1.0
    return base * warm * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


def train_peer(
    model: torch.nn.Module, dataset: DetectionDataset, seconds: float, device: torch.device, cfg: PeerConfig,
    seed: int = 0, progress: bool = True,
) -> dict:  # fmt: skip
    """Train ``model`` on ``dataset`` until ``seconds`` have passed (the step under way
    finishes). Returns ``{"seconds", "steps", "images", "skipped", "nonfinite"}``: unreadable
    images are skipped and counted; a step whose loss is not finite is not applied, and counted."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr_at(0.0, cfg), momentum=0.9, weight_decay=1e-4)
    order: list[int] = []
    steps = images = skipped = nonfinite = 0
    t0 = time.perf_counter()
    bar = tqdm(total=round(seconds), desc="train (s)", disable=not progress, leave=False)
    while (elapsed := time.perf_counter() - t0) < seconds:
        for g in opt.param_groups:
            g["lr"] = lr_at(elapsed / seconds, cfg)
        batch = []
        while len(batch) < cfg.batch_size:
            if not order:
                order = rng.permutation(len(dataset.records)).tolist()
            item = _item(dataset.records[order.pop()], bool(rng.random() < 0.5))
            if item is None:
                skipped += 1
                if skipped > 10 * len(dataset.records):
                    raise RuntimeError(f"{dataset.name}: no readable training image")
                continue
            batch.append(item)
        losses = model([x.to(device) for x, _ in batch], [{k: v.to(device) for k, v in t.items()} for _, t in batch])
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
        else:
            nonfinite += 1
        steps, images = steps + 1, images + len(batch)
        bar.n = min(round(time.perf_counter() - t0), round(seconds))
        bar.set_postfix(loss=f"{loss.item():.3f}", steps=steps)
    bar.close()
    return {"seconds": time.perf_counter() - t0, "steps": steps, "images": images, "skipped": skipped,
            "nonfinite": nonfinite}  # fmt: skip


@torch.inference_mode()
def detect_peer(
    model: torch.nn.Module, dataset: DetectionDataset, device: torch.device, progress: bool = True
) -> tuple[DetectionArrays, list[tuple[str, str]], float]:
    """Run ``model`` over ``dataset`` one image at a time: ``(detections, [(file, why)] skipped,
    seconds per image)``, the seconds counting reading each image."""
    model.to(device).eval()
    parts, failed = [], []
    t0 = time.perf_counter()
    for i, r in enumerate(tqdm(dataset.records, desc="detect", disable=not progress, leave=False)):
        rgb = read_rgb(r.file)
        if rgb is None:
            failed.append((str(r.file), "cannot be read as an image"))
            continue
        out = model([_unit(rgb).to(device)])[0]
        n = len(out["scores"])
        parts.append(
            (np.full(n, i), out["labels"].cpu().numpy(), out["scores"].cpu().numpy(), out["boxes"].cpu().numpy())
        )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    secs = (time.perf_counter() - t0) / max(len(dataset.records), 1)
    return DetectionArrays.concat(parts), failed, secs
