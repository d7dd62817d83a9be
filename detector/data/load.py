"""Open a dataset from what a user names on the command line: a COCO JSON file or an XML root."""

from __future__ import annotations

from pathlib import Path

from .coco import load_coco
from .records import DatasetError, DetectionDataset
from .voc import load_voc


def load_dataset(
    gt: str | Path,
    split: str | None = None,
    images: str | Path | None = None,
    class_map: str | Path | None = None,
    check_images: bool = False,
) -> DetectionDataset:
    """``gt`` a ``.json`` file: COCO (``images`` overrides the image folder); a folder: a VOC or
    ILSVRC layout, read for ``split`` (required)."""
    gt = Path(gt)
    if gt.suffix.lower() == ".json":
        return load_coco(gt, images, check_images)
    if not gt.exists():
        raise DatasetError(f"{gt}: ground truth not found (expected a COCO .json file or a VOC/ILSVRC folder)")
    if split is None:
        raise DatasetError(f"{gt}: an XML dataset needs --split (a list in ImageSets/Main or ImageSets/DET)")
    return load_voc(gt, split, class_map=class_map, check_images=check_images)
