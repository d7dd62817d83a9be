"""GoogLeNet backbones: the paper's Table 1 network and torchvision's BatchNorm port."""

from .builder import googlenet
from .errors import WeightsError
from .googlenet import TAPS, FeatureInfo, GoogLeNet, GoogLeNetOutputs, aux_loss_weighted
from .inference import for_inference
from .transform import BVLC_MEANS, CAFFE_MEAN, IMAGENET_MEAN, IMAGENET_STD, ZOO_MEAN, InputTransform
from .weights import load_weights, read_state_dict

__all__ = [
    "BVLC_MEANS",
    "CAFFE_MEAN",
    "ZOO_MEAN",
    "InputTransform",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TAPS",
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
