"""Running trained detectors: loading checkpoints, and whole splits (ensembles: :mod:`.ensemble`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from backbones import load_weights

from ..backbone import build_backbone
from ..checkpoint import load_checkpoint
from ..config import config_from_dict
from ..data.records import BACKGROUND, DetectionDataset
from ..engine.distributed import DistContext, all_gather_objects
from ..engine.workers import loader_processes
from ..errors import UserError
from ..eval.results import DetectionArrays
from .config import DetTrainConfig
from .data import ProposalImageDataset
from .model import HeadConfig, RegionDetector, fold_for_inference
from .precision import check_precision, load_int8_detector, quantize_detector


def build_detector(cfg: DetTrainConfig, num_classes: int) -> RegionDetector:
    """A fresh detector; the backbone from ``cfg.init`` (classifier layers skipped) when set."""
    backbone = build_backbone(cfg.model)
    if cfg.init:
        load_weights(backbone, cfg.init, ignore_head=True, bvlc_mean=cfg.model.bvlc_mean)
    return RegionDetector(backbone, num_classes, cfg.head)


class RegionScorer(Protocol):
    """What an ensemble member scores regions with: a :class:`RegionDetector` (eval mode, BN
    folded) or :class:`detector.deploy.runtime.OnnxRegionDetector` (onnxruntime, CPU)."""

    cfg: HeadConfig
    num_classes: int

    @property
    def device(self) -> torch.device: ...

    def predict(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...


@dataclass
class LoadedDetector:
    model: RegionScorer
    cfg: DetTrainConfig
    class_names: list[str]
    display_names: list[str]
    path: str


def load_detector_config(path: str | Path) -> DetTrainConfig:
    """The config a ``train_det`` checkpoint was trained with."""
    obj = load_checkpoint(path, "detector checkpoint", needs=("class_names",), hint="train one with tools/train_det.py")
    return config_from_dict(DetTrainConfig, obj["config"], f"{path} (config)")


def load_detector(
    path: str | Path, device: torch.device, fold: bool = True, multibox: str | None = None,
    precision: str = "fp32", calib=None, compile: bool = False,
) -> LoadedDetector:  # fmt: skip
    """A ``train_det`` checkpoint (``final.pth`` or ``last.pth``) ready to run on ``device``;
    ``multibox`` replaces the MultiBox checkpoint its config names for computing proposals.

    ``precision`` (:mod:`.precision`): ``fp32``, ``bf16`` (autocast), or ``int8``, which needs
    ``calib``: a file :func:`~.precision.save_int8` wrote for this checkpoint, or samples to
    calibrate on, ``(image [3, H, W] normalized, proposals [N, 4] in its pixels)`` pairs.
    ``compile``: the trunk through ``torch.compile`` (fp32, bf16; :func:`backbones.for_inference`)."""
    check_precision(precision, device)
    if compile and (precision == "int8" or not fold):
        raise UserError(f"{path}: compile goes with the folded fp32 or bf16 path, not int8")
    if precision == "int8" and calib is None:
        raise UserError(f"{path}: precision int8 needs a calibration (sample images, or a file from --save-int8)")
    obj = load_checkpoint(path, "detector checkpoint", needs=("class_names",), hint="train one with tools/train_det.py")
    cfg = config_from_dict(DetTrainConfig, obj["config"], f"{path} (config)")
    cfg.init = None
    cfg.model.weights = None
    if multibox:
        cfg.proposals.multibox_ckpt = multibox
    names = list(obj["class_names"])
    model = build_detector(cfg, len(names))
    try:
        model.load_state_dict(obj["model"])
    except RuntimeError as e:
        raise UserError(f"{path}: weights do not fit the config stored with them ({str(e).splitlines()[0]})") from None
    model.eval()
    if precision == "int8":
        if isinstance(calib, (str, Path)):
            model = load_int8_detector(model, calib, str(path))
        else:
            model = quantize_detector(model, fold_for_inference(model), calib)
    else:
        model = fold_for_inference(model, compile) if fold else model
        model.amp_dtype = torch.bfloat16 if precision == "bf16" else None
    return LoadedDetector(model.to(device), cfg, names, list(obj.get("display_names") or names), str(path))


def run_detection(
    detect, batches, ctx: DistContext, progress: bool = True, total: int | None = None
) -> tuple[DetectionArrays, list[int]]:
    """Run ``detect(image, proposals) -> Detections`` over this rank's ``batches`` (lists of
    :class:`~.data.ProposalImageDataset` items) and gather every rank's results; returns
    ``(detections with image_idx = item index, [(index, why)] of skipped images)`` on every rank."""
    parts, bad = [], []
    for batch in tqdm(batches, desc="detect", total=total, disable=not (progress and ctx.is_main), leave=False):
        for i, image, boxes, why in batch:
            if image is None:
                bad.append((i, why))
                continue
            d = detect(image, boxes)
            parts.append((np.full(len(d), i), d.labels.numpy(), d.scores.numpy(), d.boxes.numpy()))
    everyone = all_gather_objects((parts, bad), ctx)
    parts = [p for rank_parts, _ in everyone for p in rank_parts]
    bad = sorted(b for _, rank_bad in everyone for b in rank_bad)
    return DetectionArrays.concat(parts), bad


def detect_dataset(
    detect, dataset: DetectionDataset, proposals, max_proposals: int, ctx: DistContext, workers: int = 0,
    progress: bool = True,
) -> tuple[DetectionArrays, list[int]]:  # fmt: skip
    """:func:`run_detection` over a whole split, shared out over the ranks; ``proposals(record)``
    gives a record's ``[N, 4]`` boxes in original pixels."""
    ds = ProposalImageDataset(dataset.records, proposals, max_proposals)
    mine = torch.utils.data.Subset(ds, range(ctx.rank, len(ds), ctx.world_size))
    loader = DataLoader(mine, batch_size=1, num_workers=workers, collate_fn=list, **loader_processes(workers))
    return run_detection(detect, loader, ctx, progress, len(mine))


def label_map(class_names: list[str], dataset: DetectionDataset, source: str) -> np.ndarray:
    """``[K+1]`` model label -> dataset label, matching class names; a model class the dataset
    lacks is a one-line error."""
    index = {n: i + 1 for i, n in enumerate(dataset.class_names)}
    missing = [n for n in class_names if n not in index]
    if missing:
        raise UserError(
            f"{source}: classes {missing[:3]}{'...' if len(missing) > 3 else ''} are not in {dataset.name}'s classes"
        )
    return np.array([BACKGROUND] + [index[n] for n in class_names], np.int64)
