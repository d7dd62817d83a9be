"""Which splits the one-command form trains, validates and tests on, and loading them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..data.load import load_dataset, load_train_val
from ..data.records import DatasetError, DetectionDataset


@dataclass
class Splits:
    """What ``tools/train_det.py`` names: ``data`` (an XML root or a COCO training ``.json``) and
    the train/val/test splits (XML list names, or for COCO other ``.json`` files), with the COCO
    image folders and an XML class map."""

    data: str
    train: str | None = None
    val: str | None = None
    test: str | None = None
    images: str | None = None
    val_images: str | None = None
    test_images: str | None = None
    class_map: str | None = None


def listed(root: str | Path, name: str) -> bool:
    """Whether the XML dataset at ``root`` has a split list ``name`` (VOC or ILSVRC layout)."""
    root = Path(root)
    return any((root / "ImageSets" / sub / f"{name}.txt").is_file() for sub in ("Main", "DET"))


def with_defaults(s: Splits) -> Splits:
    """An XML dataset named without ``--train-split`` (the one-command form): ``train``, then
    ``val`` and ``test`` where the dataset lists them. Anything named is kept; COCO is as named."""
    if Path(s.data).suffix.lower() == ".json" or s.train is not None:
        return s
    if not listed(s.data, "train"):
        raise DatasetError(f"{s.data}: no --train-split given and no ImageSets/Main/train.txt to default to")
    val = s.val if s.val is not None else ("val" if listed(s.data, "val") else None)
    test = s.test if s.test is not None else ("test" if listed(s.data, "test") else None)
    return replace(s, train="train", val=val, test=test)


def load_splits(s: Splits, verbose: bool = True) -> dict[str, DetectionDataset]:
    """``{"train": ..., "val": ..., "test": ...}`` (val and test where named; val is the
    training split itself when none is named, as the trainers validate then)."""
    train, val = load_train_val(s.data, s.train, s.val, s.images, s.class_map, s.val_images, verbose)
    out = {"train": train}
    if val is not train:
        out["val"] = val
    if s.test:
        if train.kind == "coco":
            if Path(s.test).suffix.lower() != ".json":
                raise DatasetError(f"{s.data} is a COCO file: the test split must be another .json, not {s.test!r}")
            test = load_dataset(s.test, None, s.test_images, check_images=True)
            if test.category_ids != train.category_ids:
                raise DatasetError(f"{s.test}: its categories differ from {s.data}'s")
        else:
            test = load_dataset(s.data, s.test, s.test_images or s.images, s.class_map, True, train.class_names)
        out["test"] = test
    return out


__all__ = ["Splits", "listed", "load_splits", "with_defaults"]
