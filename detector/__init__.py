"""The R-CNN-style detector around the GoogLeNet backbone: config, checkpoints, data, proposals,
region classification, ensembles and evaluation.

    from detector import Detector, Classifier
    det = Detector.load("runs/det/final.pth")
    r = det("photo.jpg")               # r.boxes, r.scores, r.labels, r.names; r.draw()

``Detector``, ``Classifier``, ``Result`` and ``members_report`` (the ensemble tables) are imported on first use (PEP 562), so that
``import detector.data`` and the proposal workers do not load torch.
"""

from __future__ import annotations

_API = {"Detector", "Classifier", "Result", "Classification", "members_report"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        from . import api  # start-up cost: data tools and proposal workers must not load torch

        return getattr(api, name)
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
