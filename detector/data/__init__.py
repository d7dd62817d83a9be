"""Annotation loading: pure functions from files to typed records (no model code here)."""

from .coco import load_coco
from .load import load_dataset
from .records import AnnotationLog, DatasetError, DetectionDataset, ImageRecord
from .voc import load_voc, read_class_map

__all__ = [
    "AnnotationLog",
    "DatasetError",
    "DetectionDataset",
    "ImageRecord",
    "load_coco",
    "load_dataset",
    "load_voc",
    "read_class_map",
]
