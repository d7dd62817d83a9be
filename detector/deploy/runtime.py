"""Scoring a detector's regions with onnxruntime instead of PyTorch.

:class:`OnnxRegionDetector` has :meth:`~detector.rcnn.model.RegionDetector.predict`'s interface,
so an :class:`~detector.rcnn.ensemble.Ensemble` (and so :class:`detector.Detector`,
``tools/infer.py``, ``tools/eval_det.py``) runs it in place of the network. Only the network
changes: regions are warped (``rcnn``) or pooled with RoIAlign (``fast``) by the same PyTorch
code, and decoding and NMS follow as before. onnxruntime here is the CPU package.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from backbones.onnx_export import ort_session, run_session

from ..errors import UserError
from ..rcnn.model import RegionDetector, pool_levels, scale_images
from ..rcnn.warp import warp_regions
from .export import detector_files, export_detector


class OnnxRegionDetector:
    """A detector's network run by onnxruntime sessions of its exported files.

    Args:
        model: the detector (PyTorch) the files were exported from: its config and class count.
        onnx: the exported file (``tools/export_onnx.py``'s ``--out``; in ``fast`` mode the
            ``_trunk``/``_head`` files beside it are read). ``None`` exports ``model`` now, into
            a temporary folder removed once the sessions hold the networks.
        threads: onnxruntime's intra-op threads (0: its default, all cores).
    """

    device = torch.device("cpu")

    def __init__(self, model: RegionDetector, onnx: str | Path | None = None, threads: int = 0):
        self.cfg, self.num_classes = model.cfg, model.num_classes
        self.stride, self.has_deltas = model.stride, model.bbox_pred is not None
        if onnx is None:
            with tempfile.TemporaryDirectory(prefix="detector-onnx-") as tmp:
                export_detector(model, Path(tmp) / "detector.onnx")
                self.sessions = self._open(Path(tmp) / "detector.onnx", threads)
        else:
            self.sessions = self._open(Path(onnx), threads)

    def _open(self, onnx: Path, threads: int) -> dict:
        files = detector_files(onnx, self.cfg.mode)
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise UserError(
                f"{missing[0]}: exported {self.cfg.mode} network not found (tools/export_onnx.py writes it)"
            )
        sessions = {part: ort_session(p, threads) for part, p in files.items()}
        last = sessions["region" if self.cfg.mode == "rcnn" else "head"]
        outputs = last.get_outputs()
        width = outputs[0].shape[1]
        if width != self.num_classes + 1 or (len(outputs) == 2) != self.has_deltas:
            raise UserError(
                f"{files['region' if self.cfg.mode == 'rcnn' else 'head']}: outputs {width} classes "
                f"{'with' if len(outputs) == 2 else 'without'} deltas; the checkpoint has {self.num_classes + 1} "
                f"{'with' if self.has_deltas else 'without'}: exported from another detector"
            )
        return sessions

    def _score(self, session, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = run_session(session, x)
        return out[0], (out[1] if self.has_deltas else None)

    @torch.inference_mode()
    def predict(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[3, H, W]`` normalized image (the head's frame) and its ``[N, 4]`` xyxy boxes ->
        ``(probabilities [N, K+1], deltas [N, K+1, 4] or None)``, float32 on the CPU."""
        image, boxes = image.cpu().float(), boxes.cpu().float()
        k1 = self.num_classes + 1
        if not len(boxes):
            return image.new_zeros(0, k1), (image.new_zeros(0, k1, 4) if self.has_deltas else None)
        c = self.cfg
        chunks = [torch.cat([b.new_zeros(len(b), 1), b], 1) for b in boxes.split(max(1, c.region_chunk))]
        fmaps = None
        if c.mode == "fast":  # the trunk at each image scale (RegionDetector.levels)
            fmaps = [run_session(self.sessions["trunk"], scale_images(image[None], f))[0] for f in c.image_scales]
        probs, deltas = [], []
        for rois in chunks:
            if c.mode == "rcnn":
                x = warp_regions(image[None], rois, c.input_size, c.context, c.warp_antialias)
                p, d = self._score(self.sessions["region"], x)
            else:
                x = pool_levels(fmaps, rois, c, self.stride)
                p, d = self._score(self.sessions["head"], x)
            probs.append(p)
            deltas.append(d)
        return torch.cat(probs), (torch.cat(deltas) if self.has_deltas else None)
