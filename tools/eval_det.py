#!/usr/bin/env python
"""Score detections with the COCO, VOC07, VOC or ILSVRC metric: from a results file, or by running
trained detectors (an ensemble when several) on a split.

    tools/eval_det.py --gt GT --dets DETS.json --metric coco|voc07|voc|ilsvrc [--split NAME]
        [--class-map map_det.txt] [--blacklist FILE] [--lenient] [--out report.json] [--plots DIR]
    tools/eval_det.py --ckpt det.pth [--ckpt det2.pth ...] --data GT --split NAME --metric voc
        [--proposals CACHE] [--multibox MB.pth] [--save-dets DETS.json] [--out report.json] [--plots DIR]
        [--device auto] [--runtime torch|onnxruntime [--onnx det.onnx ...]]

GT (``--gt`` or ``--data``) is a COCO instances JSON file or the root of a VOC/ILSVRC-layout
dataset. With ``--ckpt``, proposals come from ``--proposals`` (computed into it first where
missing, with the first checkpoint's proposal method; default: a ``proposals`` folder beside the
report), and the detections are written as COCO results JSON (``--save-dets``) before scoring;
images that cannot be read are named and skipped, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from detector.cli import UserError, add_runtime_args, run_tool, runtime_device
from detector.data import load_dataset
from detector.eval import METRICS, evaluate_detections, read_blacklist, read_results
from detector.eval.report import format_report, plot_pr_curves, write_report
from detector.eval.results import write_results


def run_checkpoints(args, dataset, det, ctx) -> tuple[list[dict], int]:
    """Detections of the ``--ckpt`` ensemble on ``dataset``, as COCO results (also written to
    disk), and the number of images skipped (each named on stderr)."""
    out_dir = Path(args.out).parent if args.out else Path("outputs/eval_det")
    split = det.detect_split(dataset, args.proposals or out_dir / "proposals", ctx)
    for file, why in split.failed:
        print(f"error: {file}: {why}, skipped", file=sys.stderr)
    path = write_results(args.save_dets or out_dir / "detections.json", split.results)
    print(f"{len(split.results)} detections from {len(det.members)} model(s) on {len(dataset.records)} images: {path}")
    return split.results, len(split.failed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--plots", help="write one precision-recall PNG per class here")
    ap.add_argument("--proposals", help="--ckpt: proposal cache folder (filled where missing)")
    ap.add_argument("--save-dets", help="--ckpt: where to write the detections (COCO results JSON)")
    ap.add_argument("--multibox", help="--ckpt: MultiBox checkpoint for missing proposals (default: the trained one)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="--ckpt: where to run")
    add_runtime_args(ap)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if bool(args.dets) == bool(args.ckpt):
        raise UserError("give either --dets (a results file) or --ckpt (detectors to run), not both or neither")

    t0 = time.perf_counter()
    det = ctx = None
    skipped = 0
    if args.ckpt:
        from detector.api import Detector
        from detector.engine.distributed import setup

        ctx = setup(runtime_device(args))
        det = Detector.load(args.ckpt, ctx.device, args.multibox, runtime=args.runtime, onnx=args.onnx)
    names = det.class_names if det and not args.class_map else None  # a split may lack classes
    dataset = load_dataset(args.gt, args.split, args.images, args.class_map, class_names=names)
    print(dataset.log.summary())
    if det is not None:
        results, skipped = run_checkpoints(args, dataset, det, ctx)
    else:
        results = read_results(args.dets)
    blacklist = read_blacklist(args.blacklist, dataset) if args.blacklist else None
    ev = evaluate_detections(dataset, results, args.metric, blacklist, args.lenient, source=args.dets or "detections")
    print(format_report(ev.report))
    if args.out:
        print(f"report: {write_report(ev.report, args.out)}")
    if args.plots:
        paths = plot_pr_curves(ev.curves, ev.report, args.plots)
        print(f"plots: {len(paths)} precision-recall curves in {args.plots}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    if skipped:
        print(f"error: {skipped} images skipped (named above); the scores count them as missed", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
