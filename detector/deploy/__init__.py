"""Deployment: trained classifiers and detectors as ONNX files, and detectors run by onnxruntime.

- :mod:`.networks`: the exported networks, as modules (a detector's region network in ``rcnn``
  mode; its trunk and head in ``fast`` mode).
- :mod:`.export`: :func:`~.export.export_checkpoint`, which writes a checkpoint's networks and
  checks every file against PyTorch with onnxruntime.
- :mod:`.runtime`: :class:`~.runtime.OnnxRegionDetector`, a drop-in for a detector's network
  that scores regions with onnxruntime (proposals, warping, RoIAlign and NMS stay ours).
"""
