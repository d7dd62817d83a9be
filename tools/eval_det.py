#!/usr/bin/env python
"""Score detections with the COCO, VOC07, VOC or ILSVRC metric: from a results file, or by running
trained detectors (an ensemble when several) on a split.

    tools/eval_det.py --gt GT --dets DETS.json --metric coco|voc07|voc|ilsvrc [--split NAME]
        [--class-map map_det.txt] [--blacklist FILE] [--lenient] [--out report.json] [--plots DIR]
    tools/eval_det.py --ckpt det.pth [--ckpt det2.pth ...] --data GT --split NAME --metric voc
        [--proposals CACHE] [--multibox MB.pth] [--save-dets DETS.json] [--out report.json] [--plots DIR]
        [--device auto] [--runtime torch|onnxruntime [--onnx det.onnx ...]]
    either form: [--analyze DIR [--groups FILE] [--confusion-score 0.5]] writes the error-analysis page;
        [--compare B.json [--bootstrap 1000]] adds B's score minus this one's, with a paired
        bootstrap over the images (detector.eval.bootstrap): is the difference more than the split's noise?

GT (``--gt`` or ``--data``) is a COCO instances JSON file or the root of a VOC/ILSVRC-layout
dataset. With ``--ckpt``, proposals come from ``--proposals`` (computed into it first where
missing, with the first checkpoint's proposal method; default: a ``proposals`` folder beside the
report), and the detections are written as COCO results JSON (``--save-dets``) before scoring;
images that cannot be read are named and skipped, and the exit status is then 1. ``--analyze``
adds tools/analyze_det.py's page (detector.analysis).
"""

from __future__ import annotations

from detector.cli import run_tool
from detector.commands.eval_det import main as eval_main


def main(argv: list[str] | None = None) -> int:
    return eval_main(argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
