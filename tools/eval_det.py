#!/usr/bin/env python
"""Score detections (COCO results JSON) with the COCO, VOC07, VOC or ILSVRC metric.

    tools/eval_det.py --gt GT --dets DETS.json --metric coco|voc07|voc|ilsvrc [--split NAME]
        [--class-map map_det.txt] [--blacklist FILE] [--lenient] [--out report.json] [--plots DIR]

GT is a COCO instances JSON file or the root of a VOC/ILSVRC-layout dataset.
"""

from __future__ import annotations

import argparse
import logging
import time

from detector.cli import run_tool
from detector.data import load_dataset
from detector.eval import METRICS, evaluate_detections, read_blacklist, read_results
from detector.eval.report import format_report, plot_pr_curves, write_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", required=True, help="COCO .json file, or a VOC/ILSVRC dataset folder")
    ap.add_argument("--dets", required=True, help="detections in the COCO results format")
    ap.add_argument("--metric", choices=METRICS, required=True)
    ap.add_argument("--split", help="split list name for XML datasets (ImageSets/Main/<split>.txt)")
    ap.add_argument("--images", help="image folder of a COCO file (default: beside annotations/)")
    ap.add_argument("--class-map", help="map_det.txt-style class list (synset index name)")
    ap.add_argument("--blacklist", help="ILSVRC blacklist: '<image> <class>' per line")
    ap.add_argument("--lenient", action="store_true", help="drop and count detections of unknown images/classes")
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--plots", help="write one precision-recall PNG per class here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")

    t0 = time.perf_counter()
    dataset = load_dataset(args.gt, args.split, args.images, args.class_map)
    print(dataset.log.summary())
    results = read_results(args.dets)
    blacklist = read_blacklist(args.blacklist, dataset) if args.blacklist else None
    ev = evaluate_detections(dataset, results, args.metric, blacklist, args.lenient, source=args.dets)
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
