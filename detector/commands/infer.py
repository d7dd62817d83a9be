"""Detect objects in images with one trained detector or an ensemble; print, draw and save them.

googlenet-det infer image.jpg [more.jpg | a folder ...] [--ckpt det.pth [--ckpt det2.pth ...]]
    [--out DIR] [--score-thresh 0.5] [--max-dets 100] [--json] [--proposals CACHE] [--multibox MB.pth]
    [--device auto] [--runtime torch|onnxruntime [--onnx det.onnx ...]]

A thin layer over ``detector.Detector``. One line per detection (file, class, score, box x1 y1
x2 y2 in pixels); OUT/<name>.jpg with the boxes drawn and OUT/<name>.json with the detections
(or one OUT/detections.json with --json). <name> is the file's stem, prefixed with its folder's
name when two inputs share a stem. Proposals are computed per image with the first checkpoint's
proposal method (its MultiBox network, or --multibox) unless a cache (tools/proposals.py) holds
the image under its file name stem. A missing, corrupt or unreadable image is reported and
skipped, and the others are processed; the exit status is then 1. Without --ckpt, the demo's
detector (outputs/demo/det/final.pth, which `make demo` writes) is used, and a line says so.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from detector.api import Detector
from detector.api.detector import DEMO_DETECTOR, default_checkpoint
from detector.cli import UserError, add_ensemble_args, add_runtime_args, ensemble_kwargs, runtime_device
from detector.data.images import IMAGE_EXTENSIONS, ImageError
from detector.files import write_json
from detector.rcnn.precision import PRECISIONS


def image_files(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files named or inside named folders (sorted, each once), and one-line problems with the inputs."""
    files, problems, seen = [], [], set()
    for name in inputs:
        p = Path(name)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                problems.append(f"{p}: no images in this folder")
        elif p.is_file():
            found = [p]
        else:
            problems.append(f"{p}: not found")
            found = []
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    return files, problems


def output_names(files: list[Path]) -> list[str]:
    """A distinct output name per file: its stem, or ``<folder>_<stem>`` (then ``_2``, ``_3``...)
    where several inputs share a stem, so that no output overwrites another."""
    stems = Counter(f.stem for f in files)
    names, used = [], set()
    for f in files:
        name = f.stem if stems[f.stem] == 1 else f"{f.parent.name or 'root'}_{f.stem}"
        base, k = name, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names.append(name)
    return names


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    ap.add_argument(
        "--ckpt", action="append", help=f"train_det checkpoint; repeat for an ensemble (default: {DEMO_DETECTOR})"
    )
    ap.add_argument("--out", default="outputs/infer", help="folder for the drawn images and JSON")
    ap.add_argument("--score-thresh", type=float, default=0.5)
    ap.add_argument("--max-dets", type=int, help="detections per image (default: the checkpoint's test.max_dets)")
    ap.add_argument(
        "--max-proposals", type=int, help="proposals scored per image, the first N (default: test.max_proposals)"
    )
    ap.add_argument("--json", action="store_true", help="one OUT/detections.json for all images")
    ap.add_argument(
        "--proposals", nargs="+",
        help="proposal cache with the images under their file name stems (--fusion other than average: one per source)",
    )  # fmt: skip
    ap.add_argument(
        "--multibox", help="MultiBox checkpoint for on-the-fly proposals (default: the one it trained with)"
    )
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS, help="the region network's arithmetic")
    ap.add_argument(
        "--calib", nargs="+", help="--precision int8: the file(s) eval_det.py --save-int8 wrote, one per --ckpt"
    )
    ap.add_argument("--compile", action="store_true", help="the trunk through torch.compile (fp32, bf16)")
    add_runtime_args(ap)
    add_ensemble_args(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if not 0.0 <= args.score_thresh <= 1.0:
        ap.error(f"--score-thresh must be a probability in [0, 1], got {args.score_thresh}")
    for flag, value in (("--max-dets", args.max_dets), ("--max-proposals", args.max_proposals)):
        if value is not None and value < 1:
            ap.error(f"{flag} must be at least 1, got {value}")

    if args.precision == "int8" and not args.calib:
        ap.error("--precision int8 needs --calib: the calibration file(s) tools/eval_det.py --save-int8 wrote")
    ckpts = args.ckpt
    if not ckpts:
        ckpts = [default_checkpoint()]
        print(f"using the demo's detector {ckpts[0]} (pass --ckpt for another)")
    files, problems = image_files(args.inputs)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not files:
        raise UserError("no images to process")
    det = Detector.load(
        ckpts, runtime_device(args), args.multibox, args.score_thresh, args.max_dets,
        runtime=args.runtime, proposals=args.proposals, onnx=args.onnx, max_proposals=args.max_proposals,
        precision=args.precision, calib=args.calib, compile=args.compile, **ensemble_kwargs(args),
    )  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    everything, failed = [], len(problems)
    bar = tqdm(list(zip(files, output_names(files), strict=True)), desc="detect", disable=len(files) < 2, leave=False)
    for f, name in bar:
        try:
            r = det(f)
        except ImageError as e:  # this image only; the others go on
            tqdm.write(f"error: {e}, skipped", sys.stderr)
            failed += 1
            continue
        except (RuntimeError, MemoryError) as e:  # e.g. out of memory on a huge image
            tqdm.write(
                f"error: {f}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}, skipped", sys.stderr
            )
            failed += 1
            continue
        rows = r.rows()
        for row in rows:
            tqdm.write(f"{f}: {row['class']} {row['score']:.3f} {' '.join(f'{v:.1f}' for v in row['box'])}")
        if not rows:
            tqdm.write(f"{f}: no detections above {args.score_thresh}")
        drawn = r.save(out / f"{name}.jpg")
        entry = r.to_dict(drawn)
        everything.append(entry)
        if not args.json:
            write_json(out / f"{name}.json", entry)
    if args.json:
        write_json(out / "detections.json", everything)
    print(f"{len(everything)} images processed, {failed} failed; drawn images and JSON in {out}/")
    return 1 if failed else 0
