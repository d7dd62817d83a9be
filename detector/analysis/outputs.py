"""What an evaluation leaves behind, written one way for every command that evaluates
(``tools/eval_det.py``, ``tools/analyze_det.py``, the demo): the JSON report, one
precision-recall plot per class, and the error-analysis page with its headline shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.records import DetectionDataset
from ..eval.detection import EvalResult
from ..eval.report import plot_pr_curves, write_report
from .analyze import analyze
from .page import write_page


@dataclass
class AnalysisOptions:
    """How the error analysis runs: class groups, the proposals it measures, the confusion
    matrix's score threshold, and the evaluation's blacklist and leniency."""

    groups: str | None = None
    proposals: str | Path | None = None
    confusion_score: float = 0.5
    blacklist: object = None
    lenient: bool = False


@dataclass
class EvaluationOutputs:
    report: Path | None = None
    plots: list[Path] = field(default_factory=list)
    page: Path | None = None
    top_shares: dict | None = None  # Hoiem's types among the top detections (as many as objects)


def write_evaluation(
    dataset: DetectionDataset, results: list[dict], ev: EvalResult, metric: str, report: str | Path | None = None,
    plots: str | Path | None = None, analysis: str | Path | None = None, options: AnalysisOptions | None = None,
) -> EvaluationOutputs:  # fmt: skip
    """Write, where a path is given: ``report`` (JSON), ``plots`` (``pr_<class>.png``) and the
    ``analysis`` page of ``results`` (COCO results on ``dataset``, scored as ``ev``); print a
    line for each."""
    out = EvaluationOutputs()
    if report:
        out.report = write_report(ev.report, report)
        print(f"report: {out.report}")
    if plots:
        out.plots = plot_pr_curves(ev.curves, ev.report, plots)
        print(f"plots: {len(out.plots)} precision-recall curves in {plots}")
    if analysis:
        o = options or AnalysisOptions()
        a = analyze(dataset, results, metric, o.groups, o.proposals, o.confusion_score, o.blacklist, o.lenient)
        out.top_shares = a.data["fp_types"]["overall"]["at_num_gt"]
        print("top detections: " + ", ".join(f"{t} {v:.1%}" for t, v in out.top_shares.items()))
        out.page = write_page(analysis, dataset, a)
        print(f"analysis: {out.page}")
    return out


__all__ = ["AnalysisOptions", "EvaluationOutputs", "write_evaluation"]
