"""``Classifier``: a GoogLeNet classifier (or an ensemble) that names what an image shows.

    clf = Classifier.load("runs/cls/final.pth")       # or torchvision's googlenet-*.pth
    c = clf("photo.jpg", crops=10, topk=5)            # the paper's 1, 10 or 144 crops
    c.names, c.probs                                  # best first

Probabilities are the softmax averaged over the crops and over the models (the paper's way).
Class names: the folder names a ``train_cls`` checkpoint learned; for a 1000-class ImageNet
model, the ILSVRC 2012 class index (torchvision's copy, in the standard wnid order), or the
Keras-format ``imagenet_class_index.json`` given as ``class_index``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.models import GoogLeNet_Weights

from backbones.weights import WeightsError

from ..checkpoint import CheckpointError
from ..classify.crops import crops as crop_image
from ..classify.evaluate import ensemble_probs
from ..classify.multicrop import LoadedClassifier, evaluate_multicrop, load_classifier
from ..classify.precision import save_int8
from ..data.images import to_tensor
from ..engine.distributed import DistContext, resolve_device
from ..errors import UserError
from ..eval import topk_error
from .inputs import ImageInput, as_rgb

CROP_SCHEMES = (1, 10, 144)


def imagenet_class_names(class_index: str | Path | None = None) -> list[str]:
    """The 1000 ILSVRC 2012 class names in index order: from a Keras-format
    ``{"0": ["n01440764", "tench"], ...}`` file when given, else torchvision's list."""
    if class_index is None:
        return list(GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"])  # metadata only: nothing is downloaded
    path = Path(class_index)
    try:
        index = json.loads(path.read_text())
        names = [index[str(i)][1] for i in range(len(index))]
    except FileNotFoundError:
        raise UserError(f"{path}: class index not found") from None
    except (ValueError, KeyError, IndexError, TypeError):
        raise UserError(f'{path}: not a class index ({{"0": [wnid, name], ...}})') from None
    return names


@dataclass
class Classification:
    """The ``topk`` classes of one image, best first: ``names``, ``probs`` ``[k]`` float32,
    ``indices`` ``[k]`` int64 (0-based class indices)."""

    names: list[str]
    probs: np.ndarray
    indices: np.ndarray
    path: str | None = None

    def __iter__(self):
        return iter(zip(self.names, self.probs.tolist(), strict=True))

    def __repr__(self) -> str:
        """The image and its classes, best first, as ``name probability``."""
        best = ", ".join(f"{n} {p:.3f}" for n, p in self)
        return f"Classification({self.path or 'image'}, top {len(self.names)}: {best})"

    __str__ = __repr__


class Classifier:
    """One classifier or an ensemble (same classes and input size); see the module doc."""

    def __init__(self, members: list[LoadedClassifier], class_names: list[str], device: torch.device):
        first = members[0]
        for m in members[1:]:
            if (m.input_size, m.resize, m.classes) != (first.input_size, first.resize, first.classes):
                raise UserError(f"{m.name}: its classes or input size differ from {first.name}'s")
        self.members, self.class_names, self.device = members, class_names, device

    @classmethod
    def load(
        cls, checkpoints: str | Path | list[str | Path], device: str | torch.device = "auto",
        class_index: str | Path | None = None, bvlc_mean: str | tuple[float, float, float] | None = None,
        precision: str = "fp32", calib: str | Path | list[str | Path] | None = None, compile: bool = False,
    ) -> Classifier:  # fmt: skip
        """A ``train_cls`` checkpoint, a torchvision-format weights file or an ONNX GoogLeNet
        (``bvlc_googlenet.onnx``; ``bvlc_mean`` is its BGR mean: ``"caffe"``, the default, or
        ``"zoo"``), or a list of them: an ensemble.

        ``precision``: "fp32", "bf16" (autocast) or "int8" (:mod:`detector.classify.precision`),
        which needs ``calib``: an ImageFolder split (up to 256 of its images calibrate), or the
        file(s) :meth:`save_int8` wrote, one per checkpoint. ``compile``: the network through
        ``torch.compile`` (fp32, bf16; :func:`backbones.for_inference`)."""
        paths = [checkpoints] if isinstance(checkpoints, (str, Path)) else list(checkpoints)
        if not paths:
            raise UserError("Classifier.load needs at least one checkpoint")
        dev = resolve_device(device)
        try:
            files = list(calib) if isinstance(calib, (list, tuple)) else [calib] * len(paths)
            if len(files) != len(paths):
                raise UserError(f"{len(paths)} checkpoints but {len(files)} int8 calibrations")
            members = [
                load_classifier(p, dev, bvlc_mean, precision, f, compile) for p, f in zip(paths, files, strict=True)
            ]
        except WeightsError as e:  # one exception type for API users: UserError
            raise CheckpointError(str(e)) from None
        names, n = members[0].classes, members[0].num_classes
        if names is None:
            names = imagenet_class_names(class_index) if n == 1000 else [f"class_{i}" for i in range(n)]
        return cls(members, list(names), dev)

    def save_int8(self, paths: str | Path | list[str | Path]) -> list[Path]:
        """Write each int8 member's calibration, one file per member (``precision="int8"``)."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if len(paths) != len(self.members):
            raise UserError(f"{len(self.members)} members but {len(paths)} files to save their int8 calibration in")
        return [save_int8(f, m.model, m.name) for f, m in zip(paths, self.members, strict=True)]

    @torch.inference_mode()
    def probabilities(self, image: ImageInput, crops: int = 1) -> torch.Tensor:
        """``[C]`` float32 class probabilities of one image, averaged over crops and models."""
        if crops not in CROP_SCHEMES:
            raise UserError(f"crops must be one of {CROP_SCHEMES}, got {crops}")
        rgb, _ = as_rgb(image)
        first = self.members[0]
        batch = crop_image(to_tensor(rgb).to(self.device), crops, first.input_size, first.resize)
        return ensemble_probs([m.model for m in self.members], batch, [len(batch)]).mean(0)[0].float().cpu()

    def classify(self, image: ImageInput, crops: int = 1, topk: int = 5) -> Classification:
        """The ``topk`` most probable classes of one image (see :meth:`probabilities`)."""
        if topk < 1:
            raise UserError(f"topk must be at least 1, got {topk}")
        p = self.probabilities(image, crops)
        values, idx = p.topk(min(topk, len(p)))
        path = str(image) if isinstance(image, (str, Path)) else None
        return Classification([self.class_names[i] for i in idx.tolist()], values.numpy(), idx.numpy(), path)

    def evaluate(self, folder: str | Path, crops: int = 1, table3: bool = False, workers: int = 2,
                 ctx: DistContext | None = None) -> dict:  # fmt: skip
        """Top-1/top-5 error on an ImageFolder split (``folder/<class>/*``), the softmax averaged
        over ``crops`` crops and over the models: ``{"top1_error", "top5_error", "images", "crops",
        "models", "skipped"}``. ``table3`` adds the paper's Table 3 pattern under ``"table3"``: one
        model and all of them, each with 1 crop and with ``crops`` (rows ``{"models", "crops",
        "top1_error", "top5_error"}``). ``ctx`` shares the images out over ``torchrun`` processes."""
        if crops not in CROP_SCHEMES:
            raise UserError(f"crops must be one of {CROP_SCHEMES}, got {crops}")
        ctx = ctx or DistContext(0, 1, 0, self.device)
        schemes = (1, crops) if table3 and crops != 1 else (crops,)
        out = evaluate_multicrop(folder, self.members, schemes, ctx, workers=workers)
        labels = out["labels"]
        res = {**topk_error(out["probs"][crops].mean(0), labels), "images": len(labels), "crops": crops,
               "models": [m.name for m in self.members], "skipped": out["skipped"]}  # fmt: skip
        if table3:
            res["table3"] = [
                {"models": label, "crops": s, **topk_error(out["probs"][s][sel].mean(0), labels)}
                for label, sel in (("1", slice(0, 1)), (str(len(self.members)), slice(None)))
                for s in schemes
            ]
        return res

    def __call__(self, images, crops: int = 1, topk: int = 5) -> Classification | list[Classification]:
        """:meth:`classify` one image, or each of a list or tuple of images (a list back)."""
        if isinstance(images, (list, tuple)):
            return [self.classify(im, crops, topk) for im in images]
        return self.classify(images, crops, topk)
