"""The install itself: pinned releases and OpenCV's contrib module (selective search)."""

import re
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision

SETUP = (Path(__file__).resolve().parents[1] / "setup.py").read_text()


def test_cv2_has_ximgproc_and_selective_search_runs():
    assert hasattr(cv2, "ximgproc"), "cv2 is the plain build: reinstall opencv-contrib-python-headless"
    assert hasattr(cv2.ximgproc.segmentation, "createSelectiveSearchSegmentation")
    from detector.proposals.selective_search import SelectiveSearchConfig, selective_search

    img = np.zeros((64, 64, 3), np.uint8)
    img[10:30, 10:40] = (255, 0, 0)
    img[35:60, 20:50] = (0, 255, 0)
    boxes = selective_search(
        img, SelectiveSearchConfig(mode="single", resize_width=None)
    )  # OpenCV, seeded as a fresh process
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 0


def test_pinned_releases_are_installed():
    assert torch.__version__.split("+")[0] == re.search(r'"torch==([\d.]+)"', SETUP).group(1)
    assert torchvision.__version__.split("+")[0] == re.search(r'"torchvision==([\d.]+)"', SETUP).group(1)
    opencv = re.search(r'OPENCV_VERSION = "([\d.]+)"', SETUP).group(1)
    assert opencv.startswith(cv2.__version__)
    import onnx
    import onnxruntime
    import onnxscript

    for module, name in ((onnx, "onnx"), (onnxruntime, "onnxruntime"), (onnxscript, "onnxscript")):
        assert module.__version__ == re.search(rf'"{name}==([\d.]+)"', SETUP).group(1), name
    assert "CPUExecutionProvider" in onnxruntime.get_available_providers()
