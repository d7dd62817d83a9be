"""The backbone section every model config shares, and building a GoogLeNet from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backbones import GoogLeNet, googlenet


@dataclass
class ModelConfig:
    """Arguments of :func:`backbones.googlenet`; ``weights`` is a local file or null."""

    variant: Literal["paper", "bn"] = "bn"
    num_classes: int = 1000
    aux_logits: bool = False
    dropout: float | None = None
    transform_input: bool = False
    weights: str | None = None


def build_backbone(cfg: ModelConfig) -> GoogLeNet:
    return googlenet(
        variant=cfg.variant,
        num_classes=cfg.num_classes,
        aux_logits=cfg.aux_logits,
        dropout=cfg.dropout,
        weights=cfg.weights,
        transform_input=cfg.transform_input,
    )
