"""Evaluating classifiers and ensembles with the paper's 1/10/144-crop schemes.

Checkpoints are ours (``train_cls``'s ``final.pth``: variant, classes and input size come from
its config), torchvision-format ImageNet state dicts (``bn`` variant, ``transform_input``,
224/256) or ONNX GoogLeNets (BVLC's ``bvlc_googlenet.onnx``: ``paper`` variant, BVLC input
convention, 224/256). Each is run through ``backbones.for_inference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from backbones import GoogLeNet, googlenet, load_weights
from backbones.onnx_weights import onnx_num_classes
from backbones.weights import WeightsError, is_onnx, is_trunk_key, safe_load

from ..backbone import ModelConfig
from ..config import config_from_dict
from ..data.images import read_rgb, to_tensor
from ..engine.distributed import DistContext
from ..engine.precision import check_precision
from ..engine.workers import loader_processes
from ..errors import UserError
from .config import ClsTrainConfig
from .crops import crops
from .data import scan_image_folder
from .evaluate import ensemble_probs
from .precision import with_precision


@dataclass
class LoadedClassifier:
    name: str
    model: torch.nn.Module  # the for_inference path
    classes: list[str] | None  # folder names it was trained on (None: torchvision's 1000)
    input_size: int
    resize: int
    num_classes: int


def read_classifier(path: str | Path, bvlc_mean=None) -> tuple[GoogLeNet, list[str] | None, int, int]:
    """``(model, classes or None, input size, resize)`` of a ``train_cls`` checkpoint, a
    torchvision-format ImageNet file or an ONNX GoogLeNet (BVLC's, or one exported here; its
    input transform with ``bvlc_mean``); the model in eval mode without auxiliary heads."""
    if is_onnx(path):
        model = googlenet("paper", onnx_num_classes(path), aux_logits=False, weights=str(path), bvlc_mean=bvlc_mean)
        return model.eval(), None, 224, 256
    obj = safe_load(path, "checkpoint")
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and any(map(is_trunk_key, obj["model"])):
        raise WeightsError(f"{path}: is a detector or MultiBox checkpoint, not a classifier (tools/train_cls.py)")
    if isinstance(obj, dict) and "config" in obj and "model" in obj:
        cfg = config_from_dict(ClsTrainConfig, obj["config"], f"{path} (config)")
        mc: ModelConfig = cfg.model
        model = googlenet(mc.variant, mc.num_classes, aux_logits=False, transform_input=mc.transform_input)
        size, resize, classes = cfg.data.input_size, cfg.data.resize, obj.get("classes")
    else:
        model = googlenet("bn", 1000, aux_logits=False, transform_input=True)
        size, resize, classes = 224, 256, None
    load_weights(model, path)
    return model.eval(), classes, size, resize


def load_classifier(
    path: str | Path, device: torch.device, bvlc_mean=None, precision: str = "fp32", calib=None,
    compile: bool = False,
) -> LoadedClassifier:  # fmt: skip
    """:func:`read_classifier`, run through ``for_inference`` on ``device``, in ``precision``
    (:func:`~.precision.with_precision`; ``calib`` for int8: an ImageFolder split or a saved file)."""
    check_precision(precision, device)
    model, classes, size, resize = read_classifier(path, bvlc_mean)
    n = model.fc.out_features
    net = with_precision(model, precision, calib, size, resize, compile)
    return LoadedClassifier(Path(path).name, net.to(device), classes, size, resize, n)


class _RawImages(Dataset):
    def __init__(self, root: Path):
        self.samples, self.classes = scan_image_folder(root)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        img = read_rgb(path)
        return (None if img is None else to_tensor(img)), label, path


def evaluate_multicrop(
    data_dir: str | Path,
    classifiers: list[LoadedClassifier],
    schemes: tuple[int, ...],
    ctx: DistContext,
    workers: int = 2,
    images_per_batch: int = 4,
) -> dict:
    """Crop-averaged softmax of every classifier under every scheme.

    Returns ``{"probs": {scheme: [M, N, C]}, "labels": [N], "skipped": [paths], "classes"}``."""
    ds = _RawImages(Path(data_dir))
    first = classifiers[0]
    for c in classifiers:
        if (c.input_size, c.resize) != (first.input_size, first.resize):
            raise UserError(
                f"{c.name}: input size {c.input_size}/{c.resize} differs from {first.name}'s {first.input_size}/{first.resize}"
            )
        if c.classes is not None and c.classes != ds.classes:
            raise UserError(
                f"{c.name}: trained on classes {c.classes[:3]}... which differ from the folders of {data_dir}"
            )
    loader = DataLoader(
        ds, batch_size=images_per_batch, num_workers=workers, collate_fn=list, **loader_processes(workers)
    )
    probs: dict[int, list[torch.Tensor]] = {s: [] for s in schemes}
    labels, skipped = [], []
    for batch in tqdm(loader, desc=f"{len(classifiers)} model(s), crops {'/'.join(map(str, schemes))}", leave=False):
        good = [(x, y) for x, y, _ in batch if x is not None]
        skipped += [p for x, _, p in batch if x is None]
        if not good:
            continue
        labels += [y for _, y in good]
        for s in schemes:
            per_image = [crops(x.to(ctx.device), s, first.input_size, first.resize) for x, _ in good]
            probs[s].append(
                ensemble_probs([c.model for c in classifiers], torch.cat(per_image), [len(p) for p in per_image]).cpu()
            )
    if not labels:
        raise UserError(f"{data_dir}: no readable images")
    return {
        "probs": {s: torch.cat(p, 1) for s, p in probs.items()},
        "labels": torch.tensor(labels),
        "skipped": skipped,
        "classes": ds.classes,
    }
