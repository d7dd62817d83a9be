"""The embedded demo dataset: generated shapes on cluttered backgrounds, written in the real
formats (ImageFolder, COCO JSON, VOC XML). Deterministic: same seed, same bytes."""

from .shapes import CLASSES
from .writer import DemoDataConfig, make_demo_data, read_manifest

__all__ = ["CLASSES", "DemoDataConfig", "make_demo_data", "read_manifest"]
