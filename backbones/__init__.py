"""GoogLeNet backbones: the paper's Table 1 network and torchvision's BatchNorm port."""

from .googlenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FeatureInfo,
    GoogLeNet,
    GoogLeNetOutputs,
    aux_loss_weighted,
    googlenet,
)
from .inference import for_inference
from .weights import WeightsError, load_weights, read_state_dict

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FeatureInfo",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "WeightsError",
    "aux_loss_weighted",
    "for_inference",
    "googlenet",
    "load_weights",
    "read_state_dict",
]
