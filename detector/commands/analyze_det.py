"""Why a detector falls short: an error-analysis page (index.html) and analysis.json.

    tools/analyze_det.py --gt GT [--split NAME] --dets DETS.json --metric voc|ilsvrc|coco --out DIR
        [--groups FILE] [--proposals CACHE] [--confusion-score 0.5] [--class-map map_det.txt]
    tools/analyze_det.py --ckpt det.pth [--ckpt ...] --data GT --split NAME --metric voc --out DIR
        [--proposals CACHE] [--device auto] [--runtime torch|onnxruntime]

DIR/index.html opens from disk with no server: the per-class AP table (sortable) and PR curves,
the false-positive types of R-CNN's analysis (Cor/Loc/Sim/Oth/BG among the top detections),
COCO's PR breakdown (C75, C50, Loc, Sim, Oth, BG, FN), AP by object size and aspect, the
confusion matrix, galleries of false positives and missed objects, and proposal recall against
IoU when a proposal cache is given. DIR/analysis.json holds every number; DIR/report.json the
metric's report. "Similar" classes: R-CNN's VOC groups, COCO's supercategories, or --groups
('<class> <group>' lines, or ILSVRC's devkit meta_det.mat for WordNet parents). tools/eval_det.py
--analyze DIR does the same after scoring.
"""

from __future__ import annotations

from .eval_det import run_evaluation


def main(argv: list[str] | None = None) -> int:
    return run_evaluation(argv, __doc__.splitlines()[0], analysis_tool=True)
