#!/usr/bin/env python
"""Compute region proposals for a split into a per-image cache (resumable, parallel, torchrun-sharded).

tools/proposals.py --data ROOT|ANN.json --split NAME --method ss --out DIR [--workers N]
    [--mode fast|quality|single] [--k-scale 2.0] [--resize-width 500|0] [--min-size 2]
torchrun --nproc_per_node=N tools/proposals.py ...   (each rank takes its share of the images)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from detector.cli import UserError, run_tool
from detector.data import load_dataset
from detector.engine.distributed import barrier, cleanup, setup
from detector.proposals.cache import ProposalCache
from detector.proposals.extract import extract_network, extract_selective_search
from detector.proposals.selective_search import SelectiveSearchConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="VOC/ILSVRC dataset folder or COCO .json")
    ap.add_argument("--split", help="split list name (XML datasets)")
    ap.add_argument("--images", help="image folder of a COCO file")
    ap.add_argument("--method", choices=("ss", "multibox", "combined"), default="ss")
    ap.add_argument("--multibox-ckpt", help="tools/train_multibox.py's final.pth (multibox, combined)")
    ap.add_argument("--top-k", type=int, help="MultiBox boxes kept per image (default: the checkpoint's top_k)")
    ap.add_argument("--out", required=True, help="cache folder")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--mode", choices=("fast", "quality", "single"), default="fast")
    ap.add_argument("--k-scale", type=float, default=1.0, help="2.0: the paper's doubled superpixels")
    ap.add_argument("--resize-width", type=int, default=500, help="0 keeps the original size")
    ap.add_argument("--min-size", type=float, default=2.0)
    args = ap.parse_args(argv)
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: need at least 1")
    ctx = setup("auto" if args.method != "ss" else "cpu")
    try:
        dataset = load_dataset(args.data, args.split, args.images)
        if ctx.is_main:
            print(dataset.log.summary())
        cfg = SelectiveSearchConfig(
            args.mode, args.k_scale, resize_width=args.resize_width or None, min_size=args.min_size
        )
        t0 = time.perf_counter()
        if args.method == "ss":
            res = extract_selective_search(dataset, ProposalCache(args.out), cfg, args.workers, ctx)
        elif not args.multibox_ckpt:
            raise UserError(f"--method {args.method} needs --multibox-ckpt")
        else:
            res = extract_network(
                dataset,
                ProposalCache(args.out),
                args.multibox_ckpt,
                args.method,
                cfg,
                args.workers,
                ctx,
                top_k=args.top_k,
            )
        secs = time.perf_counter() - t0
        print(
            f"rank {ctx.rank}: {res['computed']} images computed ({res['boxes'] / max(res['computed'], 1):.0f} boxes/image), "
            f"{res['reused']} already cached, {len(res['failed'])} failed, {secs:.1f} s; cache: {args.out}"
        )
        for file, why in res["failed"]:
            print(f"error: {file}: {why}, skipped", file=sys.stderr)
        barrier(ctx)
        return 1 if res["failed"] else 0
    finally:
        cleanup()


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
