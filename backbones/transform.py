"""The input convention a set of weights expects, as a step inside the model.

Every model here takes ``[N, 3, H, W]`` RGB in [0, 1] normalized with the ImageNet mean and std
(``IMAGENET_MEAN``, ``IMAGENET_STD``). Weights trained on another convention carry an
:class:`InputTransform` that maps ours onto theirs, as torchvision's ``transform_input`` does:

- ``"none"``: the identity (weights trained here);
- ``"torchvision"``: RGB in [-1, 1] (torchvision's released GoogLeNet weights);
- ``"bvlc"``: Caffe's BVLC convention, BGR in 0-255 minus a per-channel mean (the BVLC
  GoogLeNet weights, e.g. the ONNX model zoo's ``bvlc_googlenet``). Caffe's prototxt subtracts
  ``CAFFE_MEAN`` (104, 117, 123); the ONNX zoo's model card ``ZOO_MEAN`` (103.939, 116.779,
  123.68). Both are BGR.

The step is ``out[:, c] = x[:, order[c]] * scale[c] + shift[c]``. ``order``, ``scale`` and
``shift`` are buffers, so the convention is saved in every state dict and checkpoint, copied by
``for_inference``, carried into a detector's trunk, and exported to ONNX. It is computed on the
input, not folded into conv1: folding is inexact at conv1's zero-padded border. State dicts
without these buffers (torchvision files, older checkpoints) leave the model's own in place.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN = (104.0, 117.0, 123.0)  # BGR, BVLC GoogLeNet's train_val.prototxt
ZOO_MEAN = (103.939, 116.779, 123.68)  # BGR, the ONNX model zoo's googlenet model card
BVLC_MEANS = {"caffe": CAFFE_MEAN, "zoo": ZOO_MEAN}
KINDS = ("none", "torchvision", "bvlc")
_BUFFERS = ("order", "scale", "shift")


def parse_bvlc_mean(value: str | tuple[float, ...] | list[float] | None) -> tuple[float, float, float]:
    """``"caffe"``, ``"zoo"``, ``"B,G,R"`` or three numbers -> a BGR mean; ``None`` is Caffe's."""
    if value is None:
        return CAFFE_MEAN
    if isinstance(value, str):
        if value in BVLC_MEANS:
            return BVLC_MEANS[value]
        try:
            value = [float(v) for v in value.split(",")]
        except ValueError:
            value = []
    if len(value) != 3:
        raise ValueError(f"a BVLC mean is 'caffe', 'zoo' or three numbers B,G,R; got {value!r}")
    return tuple(float(v) for v in value)


class InputTransform(nn.Module):
    """Our normalized RGB ``[N, 3, H, W]`` -> the convention of the weights; see the module doc."""

    def __init__(self, kind: str | bool = "none", bvlc_mean: tuple[float, float, float] | None = None):
        super().__init__()
        kind = {False: "none", True: "torchvision"}.get(kind, kind) if isinstance(kind, bool) else kind
        if kind not in KINDS:
            raise ValueError(f"unknown input transform {kind!r}; expected one of {list(KINDS)} (or a bool)")
        mean, std = torch.tensor(IMAGENET_MEAN, dtype=torch.float64), torch.tensor(IMAGENET_STD, dtype=torch.float64)
        order = torch.arange(3)
        if kind == "none":
            scale, shift = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
        elif kind == "torchvision":  # (x * std + mean - 0.5) / 0.5
            scale, shift = std / 0.5, (mean - 0.5) / 0.5
        else:  # 255 * (x * std + mean) in BGR order, minus the BGR mean
            order = torch.tensor([2, 1, 0])
            scale = 255.0 * std[order]
            shift = 255.0 * mean[order] - torch.tensor(parse_bvlc_mean(bvlc_mean), dtype=torch.float64)
        self.register_buffer("order", order)
        self.register_buffer("scale", scale.float())
        self.register_buffer("shift", shift.float())
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the Python-side summary from the buffers (after a state dict load)."""
        identity_order = self.order.tolist() == [0, 1, 2]
        self.identity = identity_order and self.scale.eq(1).all().item() and self.shift.eq(0).all().item()
        self.permute = not identity_order

    @property
    def kind(self) -> str:
        if self.identity:
            return "none"
        return "bvlc" if self.order.tolist() == [2, 1, 0] else "torchvision"

    @property
    def bvlc_mean(self) -> tuple[float, float, float] | None:
        """The BGR mean subtracted (``kind == "bvlc"``), recovered from the buffers."""
        if self.kind != "bvlc":
            return None
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)[self.order.cpu()]
        return tuple(round(v, 4) for v in (255.0 * mean - self.shift.double().cpu()).tolist())

    def describe(self) -> str:
        """A short human-readable name, for logs: ``bvlc (BGR 0-255, mean 104/117/123)``."""
        if self.kind == "bvlc":
            return "bvlc (BGR 0-255, mean " + "/".join(f"{v:g}" for v in self.bvlc_mean) + ")"
        return {"none": "none (ImageNet mean/std)", "torchvision": "torchvision ([-1, 1])"}[self.kind]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        if self.permute:
            x = x.index_select(1, self.order)
        return x * self.scale.view(1, 3, 1, 1).to(x.dtype) + self.shift.view(1, 3, 1, 1).to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors)
        for name in _BUFFERS:  # a file without the step (torchvision's, older checkpoints) keeps ours
            if prefix + name in missing_keys:
                missing_keys.remove(prefix + name)
        self._refresh()
