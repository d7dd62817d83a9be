"""``train_det``'s config: backbone, head, proposals, region sampling, test-time settings, optimizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..backbone import ModelConfig
from ..config import NonNegInt, PositiveInt
from ..engine.optim import OptimConfig
from ..engine.run_config import RunConfig
from ..proposals.selective_search import SelectiveSearchConfig
from .data import DetDataConfig
from .model import HeadConfig
from .postprocess import PostprocessConfig
from .sampling import SamplingConfig


@dataclass
class ProposalConfig:
    """Where regions come from when no cache holds them yet (tools/proposals.py's methods)."""

    method: Literal["ss", "multibox", "combined"] = "ss"
    selective_search: SelectiveSearchConfig = field(default_factory=SelectiveSearchConfig)
    multibox_ckpt: str | None = None  # tools/train_multibox.py's final.pth (multibox, combined)
    top_k: PositiveInt | None = None  # MultiBox boxes kept per image (None: the checkpoint's)
    workers: NonNegInt = 2  # selective-search processes
    max_train: PositiveInt = 2000  # proposals per image considered for training (rank order)


@dataclass
class PipelineConfig:
    """What ``tools/train_det.py`` runs around the region classifier (:mod:`detector.pipeline`)."""

    auto: bool = False  # choose the data-dependent settings from the dataset report (as --auto)
    init_from: Literal["", "rcnn"] = ""  # fast: train an `rcnn` stage first and start from its trunk
    rcnn_opts: list[str] = field(default_factory=list)  # that rcnn stage's overrides (head.mode=rcnn implied)
    multibox_config: str | None = None  # proposals multibox/combined without multibox_ckpt: train_multibox's
    # config for the `multibox` stage (a path relative to this config's folder, or absolute)
    choose_source: bool = True  # auto: multibox alone, or combined with selective search where its val recall is lower


@dataclass
class DetTrainConfig(RunConfig):
    model: ModelConfig = field(default_factory=ModelConfig)
    init: str | None = None  # a train_cls checkpoint or torchvision-format ImageNet weights
    head: HeadConfig = field(default_factory=HeadConfig)
    proposals: ProposalConfig = field(default_factory=ProposalConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    test: PostprocessConfig = field(default_factory=PostprocessConfig)
    data: DetDataConfig = field(default_factory=DetDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)  # batch_size: images per step
    reg_weight: float = 1.0  # weight of the box-regression loss
    eval_metric: Literal["voc", "voc07", "ilsvrc", "coco"] = "voc"
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
