#!/usr/bin/env python
"""Score detections with the COCO, VOC07, VOC or ILSVRC metric: from a results file, or by running
trained detectors (an ensemble when several) on a split.

    tools/eval_det.py --gt GT --dets DETS.json --metric coco|voc07|voc|ilsvrc [--split NAME]
        [--class-map map_det.txt] [--blacklist FILE] [--lenient] [--out report.json] [--plots DIR]
    tools/eval_det.py --ckpt det.pth [--ckpt det2.pth ...] --data GT --split NAME --metric voc
        [--proposals CACHE] [--multibox MB.pth] [--save-dets DETS.json] [--out report.json] [--plots DIR]
        [--device auto]

GT (``--gt`` or ``--data``) is a COCO instances JSON file or the root of a VOC/ILSVRC-layout
dataset. With ``--ckpt``, proposals come from ``--proposals`` (computed into it first where
missing, with the first checkpoint's proposal method; default: a ``proposals`` folder beside the
report), and the detections are written as COCO results JSON (``--save-dets``) before scoring.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from detector.cli import UserError, run_tool
from detector.data import load_dataset
from detector.eval import METRICS, evaluate_detections, read_blacklist, read_results
from detector.eval.report import format_report, plot_pr_curves, write_report
from detector.eval.results import write_results


def run_checkpoints(args, dataset, members, ctx) -> list[dict]:
    """Detections of the ``--ckpt`` ensemble on ``dataset``, as COCO results (also written to disk)."""
    from detector.rcnn.evaluate import detect_split

    out_dir = Path(args.out).parent if args.out else Path("outputs/eval_det")
    results, bad = detect_split(members, dataset, args.proposals or out_dir / "proposals", ctx)
    if bad:
        print(f"{len(bad)} unreadable images skipped (e.g. {dataset.records[bad[0]].file})")
    path = write_results(args.save_dets or out_dir / "detections.json", results)
    print(f"{len(results)} detections from {len(members)} model(s) on {len(dataset.records)} images: {path}")
    return results


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
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if bool(args.dets) == bool(args.ckpt):
        raise UserError("give either --dets (a results file) or --ckpt (detectors to run), not both or neither")

    t0 = time.perf_counter()
    members = ctx = None
    if args.ckpt:
        from detector.engine.distributed import setup
        from detector.rcnn.predict import load_detector

        ctx = setup(args.device)
        members = [load_detector(c, ctx.device, multibox=args.multibox) for c in args.ckpt]
    names = members[0].class_names if members and not args.class_map else None  # a split may lack classes
    dataset = load_dataset(args.gt, args.split, args.images, args.class_map, class_names=names)
    print(dataset.log.summary())
    results = run_checkpoints(args, dataset, members, ctx) if args.ckpt else read_results(args.dets)
    blacklist = read_blacklist(args.blacklist, dataset) if args.blacklist else None
    ev = evaluate_detections(dataset, results, args.metric, blacklist, args.lenient, source=args.dets or "detections")
    print(format_report(ev.report))
    if args.out:
        print(f"report: {write_report(ev.report, args.out)}")
    if args.plots:
        paths = plot_pr_curves(ev.curves, ev.report, args.plots)
        print(f"plots: {len(paths)} precision-recall curves in {args.plots}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
