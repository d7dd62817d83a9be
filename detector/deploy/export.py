"""Writing a checkpoint's networks as ONNX files, each checked against PyTorch with onnxruntime.

    files = export_checkpoint("runs/det/final.pth", "exported/det.onnx")
    for f in files: print(f.path, f.size, f.diffs)

A classifier (a ``train_cls`` checkpoint, a torchvision-format ImageNet file, an ONNX BVLC
GoogLeNet) gives one file: images ``[N, 3, S, S]`` -> ``logits``. A detector gives its region
network (:mod:`.networks`): ``rcnn`` one file, ``fast`` two, ``<stem>_trunk.onnx`` and
``<stem>_head.onnx`` beside ``out``. Inputs are our normalized RGB (the input transform of the
weights is inside the graph); the batch (and, for the trunk, the image size) is dynamic.

Every file is run by onnxruntime on inputs of another batch size (and image size) than the
export's, and compared with PyTorch: probabilities (the classifier's softmax, the detector's
``probs``) and box deltas must agree to :data:`TOLERANCE`, else :class:`ExportError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from backbones.onnx_export import DEFAULT_OPSET, check_onnx, classifier_for_export, export_classifier, export_onnx
from backbones.weights import is_onnx, is_trunk_key, safe_load

from ..classify.multicrop import read_classifier
from ..errors import UserError
from ..rcnn.model import RegionDetector
from ..rcnn.predict import load_detector
from .networks import Head, RegionNet, Trunk, output_names

TOLERANCE = 1e-4


class ExportError(UserError):
    """An exported file whose onnxruntime outputs differ from PyTorch's beyond the tolerance."""


@dataclass
class ExportedFile:
    """One written file: what it holds, its size in bytes, and the largest differences from
    PyTorch measured with onnxruntime (``{output name: max |diff|}``)."""

    path: Path
    what: str
    size: int
    diffs: dict[str, float]

    def line(self) -> str:
        checked = ", ".join(f"{k} {v:.1e}" for k, v in self.diffs.items())
        return (
            f"{self.path} ({self.what}, {self.size / 2**20:.1f} MiB): onnxruntime matches PyTorch, max |diff| {checked}"
        )


def detector_files(out: str | Path, mode: str) -> dict[str, Path]:
    """The files of a detector exported to ``out``: ``{"region": out}`` (``rcnn``) or
    ``{"trunk": <stem>_trunk.onnx, "head": <stem>_head.onnx}`` (``fast``)."""
    out = Path(out)
    if mode == "rcnn":
        return {"region": out}
    return {part: out.with_name(f"{out.stem}_{part}.onnx") for part in ("trunk", "head")}


def _checked(module, path: Path, what: str, inputs, softmax: bool = False) -> ExportedFile:
    diffs = check_onnx(module, path, inputs, softmax)
    worst = max(diffs.values())
    if not worst <= TOLERANCE:  # (NaN fails too)
        raise ExportError(f"{path}: onnxruntime differs from PyTorch by {worst:.2e} (> {TOLERANCE:g}) in {diffs}")
    return ExportedFile(path, what, path.stat().st_size, diffs)


def export_detector(model: RegionDetector, out: str | Path, opset: int = DEFAULT_OPSET) -> list[ExportedFile]:
    """Export a detector's network(s) (see the module doc); ``model`` unfolded, any device."""
    model = model.cpu().eval()
    c, files, names = model.cfg, detector_files(out, model.cfg.mode), output_names(model)
    dyn = {n: {0: "N"} for n in names}
    gen = torch.Generator().manual_seed(0)
    if c.mode == "rcnn":
        s = c.input_size
        net, path = RegionNet(model), files["region"]
        export_onnx(
            net, (torch.randn(2, 3, s, s, generator=gen),), path, ["crops"], names, {"crops": {0: "N"}, **dyn}, opset
        )
        return [
            _checked(
                net, path, f"rcnn region network, crops [N, 3, {s}, {s}]", (torch.randn(3, 3, s, s, generator=gen),)
            )
        ]
    trunk, head = Trunk(model), Head(model)
    image = {"images": {0: "B", 2: "H", 3: "W"}}
    export_onnx(
        trunk, (torch.randn(2, 3, 256, 320, generator=gen),), files["trunk"], ["images"], ["features"], image, opset
    )
    channels = {f.name: f.channels for f in model.backbone.feature_info}[c.roi_tap]
    pooled = torch.randn(2, channels, c.roi_size, c.roi_size, generator=gen).relu()
    export_onnx(
        head,
        (pooled,),
        files["head"],
        ["pooled"],
        names,
        {"pooled": {0: "R"}, **dyn},
        opset,
        starts_with_transform=False,
    )
    shape = f"[R, {channels}, {c.roi_size}, {c.roi_size}]"
    return [
        _checked(trunk, files["trunk"], f"fast trunk, images [B, 3, H, W] -> {c.roi_tap}", (torch.randn(1, 3, 288, 352, generator=gen),)),
        _checked(head, files["head"], f"fast head, pooled {shape}", (torch.randn(5, *pooled.shape[1:], generator=gen).relu(),)),
    ]  # fmt: skip


def export_checkpoint(
    path: str | Path, out: str | Path, opset: int = DEFAULT_OPSET, bvlc_mean=None
) -> list[ExportedFile]:
    """Export a ``train_det`` checkpoint (its region network) or a classifier (a ``train_cls``
    checkpoint, a torchvision-format file, an ONNX GoogLeNet read with ``bvlc_mean``) to
    ``out``; every file is checked (module doc)."""
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise UserError(f"{out}: the output file must end in .onnx")
    obj = None if is_onnx(path) else safe_load(path, "checkpoint")
    if isinstance(obj, dict) and "class_names" in obj:
        return export_detector(load_detector(path, torch.device("cpu"), fold=False).model, out, opset)
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and any(map(is_trunk_key, obj["model"])):
        raise UserError(f"{path}: a MultiBox checkpoint; export_onnx writes classifiers and detectors")
    model, _, size, _ = read_classifier(path, bvlc_mean)
    export_classifier(model, out, size, opset)
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    what = f"classifier, images [N, 3, {size}, {size}] -> logits, input {model.input_transform.describe()}"
    return [_checked(classifier_for_export(model), out, what, (x,), softmax=True)]
