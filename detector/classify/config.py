"""The ``train_cls`` configuration (see ``configs/demo_cls.yaml`` and ``configs/ilsvrc2012_cls.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..backbone import ModelConfig
from ..config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Probability
from ..engine.optim import OptimConfig
from ..engine.run_config import RunConfig


@dataclass
class AugmentConfig:
    """Training augmentation (albumentations): the paper's crops and distortions."""

    enabled: bool = True
    area: tuple[Probability, Probability] = (0.08, 1.0)  # crop area, fraction of the image
    aspect: tuple[PositiveFloat, PositiveFloat] = (0.75, 1.3333333)
    random_interpolation: bool = True  # bilinear, area, nearest, cubic at random
    hflip: Probability = 0.5
    photometric: Probability = 0.8  # probability of a colour distortion
    brightness: NonNegFloat = 0.3
    contrast: NonNegFloat = 0.3
    saturation: NonNegFloat = 0.3
    hue: NonNegFloat = 0.05


@dataclass
class DataConfig:
    input_size: PositiveInt = 224
    resize: PositiveInt = 256  # evaluation: shorter side, then a center crop of input_size
    workers: NonNegInt = 4
    cache: bool = False  # decode the whole split into memory once (small datasets)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class ClsTrainConfig(RunConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig(variant="bn", aux_logits=True))
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    init: str | None = None  # weights file for the backbone (classifier layers skipped)
