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
    class_names: list[str] | None = None,
) -> DetectionDataset:
    """``gt`` a ``.json`` file: COCO (``images`` overrides the image folder); a folder: a VOC or
    ILSVRC layout, read for ``split`` (required), with ``class_names`` as its classes if given."""
    gt = Path(gt)
    if gt.suffix.lower() == ".json":
        return load_coco(gt, images, check_images)
    if not gt.exists():
        raise DatasetError(f"{gt}: ground truth not found (expected a COCO .json file or a VOC/ILSVRC folder)")
    if split is None:
        raise DatasetError(f"{gt}: an XML dataset needs --split (a list in ImageSets/Main or ImageSets/DET)")
    return load_voc(gt, split, class_map=class_map, class_names=class_names, check_images=check_images)


def load_train_val(
    data: str | Path, train_split: str | None, val_split: str | None, images: str | Path | None = None,
    class_map: str | Path | None = None, val_images: str | Path | None = None, verbose: bool = False,
) -> tuple[DetectionDataset, DetectionDataset]:  # fmt: skip
    """A training split and its validation split; the training split itself when none is named.

    XML: two split lists of the ``data`` root, the validation one read with the training classes.
    COCO: ``data`` is the training file (images in ``images``) and ``val_split`` another ``.json``
    with the same categories (images in ``val_images``; default: found beside it, as
    ``val2017/`` is beside ``annotations/instances_val2017.json``). ``verbose`` prints the
    training split's annotation summary, and says when validation falls back to it.
    """
    train = load_dataset(data, train_split, images, class_map, check_images=True)
    if verbose:
        print(train.log.summary())
    if not val_split:
        if verbose:
            print("no validation split given: validating on the training images")
        return train, train
    if train.kind == "coco":
        if Path(val_split).suffix.lower() != ".json":
            raise DatasetError(f"{data} is a COCO file: the validation split must be another .json, not {val_split!r}")
        val = load_dataset(val_split, None, val_images, check_images=True)
        if val.category_ids != train.category_ids:
            raise DatasetError(f"{val_split}: its categories differ from {data}'s")
        return train, val
    return train, load_dataset(data, val_split, val_images or images, class_map, True, class_names=train.class_names)
