"""Builders of small in-memory datasets and results for the evaluation tests."""

from pathlib import Path

import numpy as np
import pytest

from detector.data.records import AnnotationLog, DetectionDataset, ImageRecord


def make_voc_dataset(gts: dict[str, list[tuple]], classes: list[str]) -> DetectionDataset:
    """``gts``: image id -> [(class, xmin, ymin, xmax, ymax, difficult)] in 1-based inclusive
    XML coordinates, converted the way the VOC loader converts them."""
    records = []
    for img, objs in gts.items():
        raw = np.array([o[1:5] for o in objs], np.float32).reshape(-1, 4)
        boxes = np.concatenate([raw[:, :2] - 1, raw[:, 2:]], 1)
        records.append(
            ImageRecord(
                img,
                Path(f"{img}.jpg"),
                500,
                400,
                boxes=boxes,
                labels=np.array([classes.index(o[0]) + 1 for o in objs], np.int64),
                difficult=np.array([bool(o[5]) for o in objs], bool),
                iscrowd=np.zeros(len(objs), bool),
            )
        )
    return DetectionDataset("test", "voc", records, list(classes), list(classes), AnnotationLog("test"))


def det(img, cls, xmin, ymin, xmax, ymax, score):
    """A results entry for a 1-based inclusive box."""
    return {"image_id": img, "category_id": cls, "bbox": [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1], "score": score}


@pytest.fixture
def voc_builder():
    return make_voc_dataset
