#!/usr/bin/env python
"""Detect objects in images with one trained detector or an ensemble; print, draw and save them.

tools/infer.py image.jpg [more.jpg | a folder ...] --ckpt det.pth [--ckpt det2.pth ...]
    [--out DIR] [--score-thresh 0.5] [--max-dets 100] [--json] [--proposals CACHE] [--multibox MB.pth]
    [--device auto]

One line per detection (file, class, score, box x1 y1 x2 y2 in pixels); OUT/<name>.jpg with the
boxes drawn and OUT/<name>.json with the detections (or one OUT/detections.json with --json).
Proposals are computed per image with the first checkpoint's proposal method (its MultiBox
network, or --multibox) unless a cache (tools/proposals.py) holds the image under its file name stem. A missing, corrupt or unreadable
image is reported and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import torch

from detector.classify.data import IMAGE_EXTENSIONS, read_rgb, to_tensor
from detector.cli import UserError, run_tool
from detector.engine.distributed import setup
from detector.proposals.cache import ProposalCache
from detector.rcnn.data import clean_proposals
from detector.rcnn.draw import draw_detections
from detector.rcnn.predict import Ensemble, load_detector
from detector.rcnn.proposals import OnTheFly


def image_files(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files named or inside named folders (sorted), and one-line problems with the inputs."""
    files, problems = [], []
    for name in inputs:
        p = Path(name)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                problems.append(f"{p}: no images in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{p}: not found")
    return files, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    ap.add_argument("--ckpt", action="append", required=True, help="train_det checkpoint; repeat for an ensemble")
    ap.add_argument("--out", default="outputs/infer", help="folder for the drawn images and JSON")
    ap.add_argument("--score-thresh", type=float, default=0.5)
    ap.add_argument("--max-dets", type=int, help="detections per image (default: the checkpoint's test.max_dets)")
    ap.add_argument("--json", action="store_true", help="one OUT/detections.json for all images")
    ap.add_argument("--proposals", help="proposal cache with the images under their file name stems")
    ap.add_argument(
        "--multibox", help="MultiBox checkpoint for on-the-fly proposals (default: the one it trained with)"
    )
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = ap.parse_args(argv)
    if not 0.0 <= args.score_thresh <= 1.0:
        ap.error(f"--score-thresh must be a probability in [0, 1], got {args.score_thresh}")
    if args.max_dets is not None and args.max_dets < 1:
        ap.error(f"--max-dets must be at least 1, got {args.max_dets}")

    files, problems = image_files(args.inputs)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    ctx = setup(args.device)
    members = [load_detector(c, ctx.device, multibox=args.multibox) for c in args.ckpt]
    test = dataclasses.replace(members[0].cfg.test, score_thresh=args.score_thresh)
    if args.max_dets is not None:
        test.max_dets = args.max_dets
    ensemble = Ensemble(members, test)
    names = ensemble.display_names
    cache = ProposalCache(args.proposals) if args.proposals else None
    on_the_fly = None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    everything, failed = [], len(problems)
    for f in files:
        image = read_rgb(f)
        if image is None:
            print(f"error: {f}: cannot decode (corrupt or not an image), skipped", file=sys.stderr)
            failed += 1
            continue
        h, w = image.shape[:2]
        if cache is not None and cache.has(f.stem, f):
            boxes = cache.get(f.stem, f)[0]
        else:
            on_the_fly = on_the_fly or OnTheFly(members[0].cfg.proposals, ctx.device)
            boxes = on_the_fly(image)
        proposals = torch.from_numpy(clean_proposals(boxes, w, h, test.max_proposals))
        dets = ensemble.detect(to_tensor(image), proposals)
        rows = [
            {"label": int(lab), "class": names[int(lab) - 1], "score": round(float(s), 4),
             "box": [round(float(v), 1) for v in b]}
            for b, s, lab in zip(dets.boxes, dets.scores, dets.labels, strict=True)
        ]  # fmt: skip
        for r in rows:
            print(f"{f}: {r['class']} {r['score']:.3f} {' '.join(f'{v:.1f}' for v in r['box'])}")
        if not rows:
            print(f"{f}: no detections above {args.score_thresh}")
        drawn = out / f"{f.stem}.jpg"
        cv2.imwrite(str(drawn), cv2.cvtColor(draw_detections(image, dets, names), cv2.COLOR_RGB2BGR))
        entry = {"image": str(f), "width": w, "height": h, "drawn": str(drawn), "proposals": len(proposals),
                 "detections": rows}  # fmt: skip
        everything.append(entry)
        if not args.json:
            (out / f"{f.stem}.json").write_text(json.dumps(entry, indent=2))
    if args.json:
        (out / "detections.json").write_text(json.dumps(everything, indent=2))
    print(f"{len(everything)} images processed, {failed} failed; drawn images and JSON in {out}/")
    if not files:
        raise UserError("no images to process")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
