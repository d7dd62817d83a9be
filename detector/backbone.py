"""The backbone section every model config shares, and building a GoogLeNet from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backbones import CAFFE_MEAN, GoogLeNet, googlenet

from .config import PositiveInt, Probability


@dataclass
class ModelConfig:
    """Arguments of :func:`backbones.googlenet`; ``weights`` is a local file or null.

    ``transform_input`` is the input convention of the weights (:mod:`backbones.transform`).
    Weights that bring their own (an ONNX BVLC GoogLeNet as ``weights`` or as a trainer's
    ``init``, a checkpoint trained from one) set it in the model, whose state dict, and so every
    checkpoint, records it (``input_transform.*``). ``bvlc_mean`` is the BGR mean of the BVLC
    convention: Caffe's (104, 117, 123) by default, or the ONNX zoo's (103.939, 116.779, 123.68).
    """

    variant: Literal["paper", "bn"] = "bn"
    num_classes: PositiveInt = 1000
    aux_logits: bool = False
    dropout: Probability | None = None
    transform_input: bool | Literal["none", "torchvision", "bvlc"] = False
    bvlc_mean: tuple[float, float, float] = CAFFE_MEAN
    weights: str | None = None


def build_backbone(cfg: ModelConfig) -> GoogLeNet:
    return googlenet(
        variant=cfg.variant,
        num_classes=cfg.num_classes,
        aux_logits=cfg.aux_logits,
        dropout=cfg.dropout,
        weights=cfg.weights,
        transform_input=cfg.transform_input,
        bvlc_mean=cfg.bvlc_mean,
    )
