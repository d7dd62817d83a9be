"""The pipeline's measurements: which proposal source the detector trains on (``--auto``), and
the test split scored once at the end."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from ..analysis.outputs import AnalysisOptions, write_evaluation
from ..api import Detector
from ..engine import distributed as dist_
from ..eval.detection import evaluate_detections
from ..eval.report import format_report
from ..eval.results import write_results
from ..files import write_json
from ..proposals.recall import proposal_recall
from ..rcnn.config import DetTrainConfig
from ..rcnn.proposals import ensure_proposals, val_cache_root
from .auto import Choice
from .settings import Settings

SOURCE_SLACK = 0.01  # MultiBox alone where its val recall@0.5 is at most this below selective search's


def choose_source(s: Settings, data: dict, run: Path) -> Choice:
    """``--auto`` with MultiBox proposals: measure recall@0.5 on the validation split of the
    trained MultiBox network (its top_k) and of selective search (as configured), and train on
    MultiBox alone where it finds as much (within :data:`SOURCE_SLACK`), else on both merged
    (``combined``, MultiBox's boxes first). Sets ``s.det.proposals.method``; the choice is
    printed and added to ``run/auto.json``."""
    val = data.get("val", data["train"])
    ctx = dist_.setup(s.det.device, s.det.dist_timeout)
    try:
        props = s.det.proposals
        mb = ensure_proposals(val, run / "source" / "multibox", replace(props, method="multibox"), ctx)
        ss = ensure_proposals(val, run / "source" / "ss", replace(props, method="ss"), ctx)
    finally:
        dist_.cleanup()
    r_mb, r_ss = proposal_recall(val, mb)["recall@0.5"], proposal_recall(val, ss)["recall@0.5"]
    method = "multibox" if r_mb >= r_ss - SOURCE_SLACK else "combined"
    why = f"val recall@0.5: MultiBox {r_mb:.3f}, selective search {r_ss:.3f}"
    choice = Choice("proposals.method", method, why + (" (MultiBox finds as much)" if method == "multibox" else
                                                       " (selective search adds what MultiBox misses)"))  # fmt: skip
    s.det.proposals.method = method
    if ctx.is_main:
        print(choice.line())
        path = run / "auto.json"
        write_json(path, {**_read(path), "source": vars(choice)})
    return choice


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def test_stage(cfg: DetTrainConfig, ckpt: Path, data: dict, run: Path) -> dict:
    """Score the test split once with ``ckpt`` into ``run/test``: detections, the JSON report,
    precision-recall plots and the analysis page (written last: the stage's done mark)."""
    train, test = data["train"], data["test"]
    out = run / "test"
    ctx = dist_.setup(cfg.device, cfg.dist_timeout)
    try:
        det = Detector.load([ckpt], ctx.device)
        root = val_cache_root(train, test, run / "proposals")
        split = det.detect_split(test, root, ctx)
    finally:
        dist_.cleanup()
    if not ctx.is_main:
        return {}
    for file, why in split.failed:
        print(f"error: {file}: {why}, skipped", file=sys.stderr)
    write_results(out / "detections.json", split.results)
    ev = evaluate_detections(test, split.results, cfg.eval_metric)
    print(format_report(ev.report))
    ev.report["skipped_images"] = [f for f, _ in split.failed]
    write_evaluation(test, split.results, ev, cfg.eval_metric, out / "report.json", out / "pr", out / "analysis",
                     AnalysisOptions(proposals=root))  # fmt: skip
    return ev.report


__all__ = ["SOURCE_SLACK", "choose_source", "test_stage"]
