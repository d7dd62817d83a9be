"""Building a GoogLeNet: the network (:mod:`.googlenet`) with its weights loaded from a local
file (:mod:`.weights`). This module sits above both, so the network's definition imports no
weight loading (as timm's ``_builder.py`` sits above its model files)."""

from __future__ import annotations

from .googlenet import GoogLeNet
from .transform import parse_bvlc_mean
from .weights import load_weights


def googlenet(
    variant: str = "paper",
    num_classes: int = 1000,
    aux_logits: bool = True,
    dropout: float | None = None,
    weights: str | None = None,
    transform_input: bool | str = False,
    dropout_aux: float = 0.7,
    bvlc_mean: str | tuple[float, float, float] | None = None,
) -> GoogLeNet:
    """Build a GoogLeNet.

    Args:
        variant: ``"paper"`` (Table 1) or ``"bn"`` (torchvision's structure).
        num_classes: classifier outputs (main and auxiliary heads).
        aux_logits: build the auxiliary classifiers on 4a and 4d.
        dropout: main dropout; ``None`` takes the variant's (0.4 paper, 0.2 bn).
        weights: path of a torchvision-format state dict or a checkpoint of ours (loaded with
            ``torch.load(weights_only=True)``), or an ONNX file of BVLC GoogLeNet (``*.onnx``,
            ``paper`` variant; see :mod:`backbones.onnx_weights`); ``None`` keeps the random
            initialization.
        transform_input: the input convention of the weights (:mod:`backbones.transform`):
            ``False``/``"none"``, ``True``/``"torchvision"`` (torchvision's released weights) or
            ``"bvlc"``. A checkpoint that records one, or an ONNX file, sets its own.
        dropout_aux: dropout of the auxiliary heads (0.7 in the paper).
        bvlc_mean: the BGR mean of the ``"bvlc"`` convention: ``"caffe"`` (104, 117, 123, the
            default), ``"zoo"`` (103.939, 116.779, 123.68) or three numbers.

    A BVLC ONNX file has no auxiliary heads: with ``aux_logits=True`` they keep their random
    initialization (and a log line says so).
    """
    mean = parse_bvlc_mean(bvlc_mean)
    model = GoogLeNet(variant, num_classes, aux_logits, dropout, dropout_aux, transform_input, mean)
    if weights is not None:
        load_weights(model, weights, bvlc_mean=mean)
    return model


__all__ = ["googlenet"]
