"""Evaluation: detection mAP (COCO, VOC07, VOC, ILSVRC) and classification top-k error."""

from .bootstrap import format_bootstrap, paired_bootstrap
from .classification import topk_error
from .detection import METRICS, EvalResult, evaluate_arrays, evaluate_detections, read_blacklist
from .results import DetectionArrays, arrays_to_results, read_results, results_to_arrays, write_results

__all__ = [
    "METRICS",
    "DetectionArrays",
    "EvalResult",
    "arrays_to_results",
    "evaluate_arrays",
    "evaluate_detections",
    "format_bootstrap",
    "paired_bootstrap",
    "read_blacklist",
    "read_results",
    "results_to_arrays",
    "topk_error",
    "write_results",
]
