"""Score detections with the COCO, VOC07, VOC or ILSVRC metric: from a results file, or by running
trained detectors (an ensemble when several) on a split.

    tools/eval_det.py --gt GT --dets DETS.json --metric coco|voc07|voc|ilsvrc [--split NAME]
        [--class-map map_det.txt] [--blacklist FILE] [--lenient] [--out report.json] [--plots DIR]
    tools/eval_det.py --ckpt det.pth [--ckpt det2.pth ...] --data GT --split NAME --metric voc
        [--proposals CACHE] [--multibox MB.pth] [--save-dets DETS.json] [--out report.json] [--plots DIR]
        [--device auto] [--runtime torch|onnxruntime [--onnx det.onnx ...]]
        [--tta hflip,vflip] [--weights W ...] [--fusion average|union|wbf|nmw|soft_nms]
        [--members [--select-split val] [--bootstrap 1000]]: the Table 4/5 report of the --ckpt's
    either form: [--analyze DIR [--groups FILE] [--confusion-score 0.5]] writes the error-analysis page;
        [--compare B.json [--bootstrap 1000]] adds B's score minus this one's, with a paired
        bootstrap over the images (detector.eval.bootstrap): is the difference more than the split's noise?

GT (``--gt`` or ``--data``) is a COCO instances JSON file or the root of a VOC/ILSVRC-layout
dataset. With ``--ckpt``, proposals come from ``--proposals`` (computed into it first where
missing, with the first checkpoint's proposal method; default: a ``proposals`` folder beside the
report), and the detections are written as COCO results JSON (``--save-dets``) before scoring;
images that cannot be read are named and skipped, and the exit status is then 1. ``--analyze``
adds tools/analyze_det.py's page (detector.analysis). ``--members`` scores every checkpoint,
the full ensemble and the greedy best subset (chosen on ``--select-split``), with each ensemble's
gain over its best member and a paired bootstrap (:mod:`detector.api.members`), printed and
written under ``members`` in the report.

The code of ``googlenet-det eval-det`` and ``googlenet-det analyze`` (:mod:`.analyze_det`), and of
their ``tools/*.py`` shims.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ..analysis.outputs import AnalysisOptions, write_evaluation
from ..api import Detector
from ..api.members import format_members, report_and_results
from ..cli import UserError, add_ensemble_args, add_runtime_args, ensemble_kwargs, runtime_device
from ..data import load_dataset
from ..engine.distributed import setup
from ..eval.bootstrap import format_bootstrap, paired_bootstrap
from ..eval.detection import METRICS, evaluate_detections, read_blacklist
from ..eval.report import format_report
from ..eval.results import read_results, write_results
from ..rcnn.precision import PRECISIONS
from ..rcnn.proposals import source_roots


def _default_proposals(args) -> Path:
    """``--ckpt``'s proposal cache when ``--proposals`` is not given: beside the report."""
    return (Path(args.out).parent if args.out else Path("outputs/eval_det")) / "proposals"


def run_checkpoints(args, dataset, det, ctx) -> tuple[list[dict], int]:
    """Detections of the ``--ckpt`` ensemble on ``dataset``, as COCO results (also written to
    disk), and the number of images skipped (each named on stderr)."""
    split = det.detect_split(dataset, _proposals(args), ctx)
    return split.results, _write_detections(args, dataset, det, split.results, split.failed)


def _write_detections(args, dataset, det, results: list[dict], failed: list[tuple[str, str]]) -> int:
    """Name each skipped image on stderr, write ``results`` (``--save-dets``), say where; the
    number of images skipped."""
    for file, why in failed:
        print(f"error: {file}: {why}, skipped", file=sys.stderr)
    path = write_results(args.save_dets or _default_proposals(args).parent / "detections.json", results)
    print(f"{len(results)} detections from {len(det.members)} model(s) on {len(dataset.records)} images: {path}")
    return len(failed)


def _proposals(args) -> list[str] | Path:
    return args.proposals or _default_proposals(args)


def run_members(args, dataset, det, ctx) -> tuple[dict, list[dict], int]:
    """``--members``: the members' table (:func:`~detector.api.members.members_report`), printed,
    and the full ensemble's detections from the same pass (written as ``--ckpt``'s are), with the
    number of images skipped."""
    if ctx.world_size > 1:
        raise UserError("--members runs in one process (no torchrun)")
    select = None
    if args.select_split:  # a split list of an XML dataset, or another COCO file (its images beside it)
        coco = args.select_split.endswith(".json")
        gt, split, images = (args.select_split, None, None) if coco else (args.gt, args.select_split, args.images)
        select = load_dataset(gt, split, images, args.class_map, class_names=det.class_names)
    report, results, failed = report_and_results(det, dataset, args.metric, _proposals(args), select,
                                                  bootstrap=args.bootstrap)  # fmt: skip
    print(format_members(report))
    return report, results, _write_detections(args, dataset, det, results, failed)


def _compare(args, dataset, results, blacklist) -> dict:
    """``--compare``: the paired bootstrap of ``--compare``'s score minus this run's, printed."""
    if args.bootstrap < 1:
        raise UserError(f"--bootstrap must be at least 1, got {args.bootstrap}")
    other = read_results(args.compare)
    r = paired_bootstrap(dataset, results, other, args.metric, args.bootstrap, 0, blacklist, args.lenient)
    this = args.dets or "these detections"
    print(format_bootstrap(r, Path(this).name, Path(args.compare).name))
    return dict(r, a_source=str(this), b_source=str(args.compare))


def _calibration(args):
    """``--precision int8``'s calibration: a split of ``--data``, or saved files; one line when
    neither or both are given."""
    if args.precision != "int8":
        if args.calib_split or args.calib or args.save_int8:
            raise UserError("--calib-split, --calib and --save-int8 go with --precision int8")
        return None
    if bool(args.calib_split) == bool(args.calib):
        raise UserError("--precision int8 needs either --calib-split (a split of --data) or --calib (saved files)")
    if args.calib:
        return args.calib
    return load_dataset(args.gt, args.calib_split, args.images, args.class_map)


def _add_members_args(ap) -> None:
    ap.add_argument("--bootstrap", type=int, default=1000, help="--compare, --members: resamplings of the images")
    ap.add_argument(
        "--members", action="store_true",
        help="--ckpt (2 or more): every member, the ensemble and the greedy subset, with bootstrap gains",
    )  # fmt: skip
    ap.add_argument(
        "--select-split",
        help="--members: the split the greedy subset is chosen on, or a COCO .json (default: the scored split)",
    )  # fmt: skip


def _parser(description: str, analysis_tool: bool) -> argparse.ArgumentParser:
    """The arguments of ``tools/eval_det.py``, or of ``tools/analyze_det.py`` (``analysis_tool``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--gt", "--data", dest="gt", required=True, help="COCO .json file, or a VOC/ILSVRC dataset folder")
    ap.add_argument("--dets", help="detections in the COCO results format")
    ap.add_argument(
        "--ckpt", action="append", help="train_det checkpoint to run instead of --dets; repeat for an ensemble"
    )
    ap.add_argument("--metric", choices=METRICS, required=True)
    ap.add_argument("--split", help="split list name for XML datasets (ImageSets/Main/<split>.txt)")
    ap.add_argument("--images", help="image folder of a COCO file (default: beside annotations/)")
    ap.add_argument("--class-map", help="map_det.txt-style class list (synset index name)")
    ap.add_argument("--blacklist", help="ILSVRC blacklist: '<image> <class>' per line")
    ap.add_argument("--lenient", action="store_true", help="drop and count detections of unknown images/classes")
    if analysis_tool:
        ap.add_argument("--out", required=True, help="folder of the analysis page (index.html, analysis.json)")
    else:
        ap.add_argument("--out", help="write the JSON report here")
        ap.add_argument("--plots", help="write one precision-recall PNG per class here")
        ap.add_argument("--analyze", help="also write the error-analysis page into this folder")
    ap.add_argument(
        "--groups",
        help="analysis: which classes are similar: '<class> <group>' lines, or ILSVRC's meta_det.mat (WordNet parents)",
    )
    ap.add_argument(
        "--confusion-score", type=float, default=0.5, help="analysis: score threshold of the confusion matrix"
    )
    ap.add_argument(
        "--proposals", nargs="+",
        help="--ckpt: proposal cache folder (filled where missing); with --fusion other than average, one per "
        "proposal source (default: s0, s1, ... inside one folder)",
    )  # fmt: skip
    ap.add_argument(
        "--save-dets",
        help="--ckpt: where to write the detections (COCO results JSON; default: detections.json beside the proposal cache, replacing an earlier one)",
    )
    ap.add_argument("--multibox", help="--ckpt: MultiBox checkpoint for missing proposals (default: the trained one)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="--ckpt: where to run")
    ap.add_argument(
        "--max-proposals",
        type=int,
        help="--ckpt: proposals scored per image, the first N (default: test.max_proposals)",
    )
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS, help="--ckpt: the region network's arithmetic")
    ap.add_argument("--calib-split", help="--precision int8: calibrate on this split of --data (e.g. train)")
    ap.add_argument(
        "--calib", nargs="+", help="--precision int8: calibration file(s) --save-int8 wrote, one per --ckpt"
    )
    ap.add_argument("--save-int8", nargs="+", help="--precision int8: write each checkpoint's calibration here")
    ap.add_argument("--compile", action="store_true", help="--ckpt: the trunk through torch.compile (fp32, bf16)")
    if not analysis_tool:
        ap.add_argument(
            "--compare",
            help="another results file (B) on the same split: its score minus this one's, with a paired bootstrap",
        )
        _add_members_args(ap)
    add_runtime_args(ap)
    add_ensemble_args(ap)
    return ap


def run_evaluation(argv: list[str] | None = None, description: str = "", analysis_tool: bool = False) -> int:
    """``tools/eval_det.py`` (``analysis_tool=False``) or ``tools/analyze_det.py`` (``--out`` is
    then the analysis folder, and the analysis is what the tool is for)."""
    args = _parser(description, analysis_tool).parse_args(argv)
    if analysis_tool:
        args.analyze, args.plots, args.out = args.out, None, str(Path(args.out) / "report.json")
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if bool(args.dets) == bool(args.ckpt):
        raise UserError("give either --dets (a results file) or --ckpt (detectors to run), not both or neither")
    if not analysis_tool and args.members and len(args.ckpt or ()) < 2:
        raise UserError("--members needs two or more --ckpt")

    t0 = time.perf_counter()
    det = ctx = None
    skipped = 0
    if args.ckpt:
        ctx = setup(runtime_device(args))
        det = Detector.load(
            args.ckpt, ctx.device, args.multibox, runtime=args.runtime, onnx=args.onnx,
            max_proposals=args.max_proposals, precision=args.precision, calib=_calibration(args), compile=args.compile,
            **ensemble_kwargs(args),
        )  # fmt: skip
        if args.save_int8:
            print("int8 calibration: " + ", ".join(str(p) for p in det.save_int8(args.save_int8)))
    names = det.class_names if det and not args.class_map else None  # a split may lack classes
    dataset = load_dataset(args.gt, args.split, args.images, args.class_map, class_names=names)
    print(dataset.log.summary())
    members = None
    if det is not None and not analysis_tool and args.members:
        members, results, skipped = run_members(args, dataset, det, ctx)
    elif det is not None:
        results, skipped = run_checkpoints(args, dataset, det, ctx)
    else:
        results = read_results(args.dets)
    blacklist = read_blacklist(args.blacklist, dataset) if args.blacklist else None
    ev = evaluate_detections(dataset, results, args.metric, blacklist, args.lenient, source=args.dets or "detections")
    print(format_report(ev.report))
    if not analysis_tool and args.compare:
        ev.report["compare"] = _compare(args, dataset, results, blacklist)
    if members is not None:
        ev.report["members"] = members
    if det is not None:
        cache = source_roots(_proposals(args), len(det.sources))[0]
    else:
        cache = args.proposals[0] if args.proposals else None
    options = AnalysisOptions(args.groups, cache, args.confusion_score, blacklist, args.lenient)
    analysis = args.analyze if ctx is None or ctx.is_main else None
    write_evaluation(dataset, results, ev, args.metric, args.out, args.plots, analysis, options)
    print(f"({time.perf_counter() - t0:.1f} s)")
    if skipped:
        print(f"error: {skipped} images skipped (named above); the scores count them as missed", file=sys.stderr)
    return 1 if skipped else 0


def main(argv: list[str] | None = None) -> int:
    return run_evaluation(argv, __doc__.splitlines()[0])
