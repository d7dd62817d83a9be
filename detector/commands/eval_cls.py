"""Top-1/top-5 error of classifiers and ensembles with the paper's 1, 10 or 144 crops.

    tools/eval_cls.py --data DIR --ckpt A.pth [B.pth ...] --crops 1|10|144 [--table3] [--json out.json]
    tools/eval_cls.py --data DIR --ckpt bvlc_googlenet.onnx [--bvlc-mean caffe|zoo|B,G,R] --crops 10
    tools/eval_cls.py --scores SCORES --labels LABELS [--json out.json]

DIR is an ImageFolder split (e.g. .../cls/val). Softmax is averaged over crops and over the
given checkpoints (the ensemble). --table3 prints the paper's Table 3 pattern: 1 model and all
models, each with 1 crop and with the chosen number of crops. The second form scores saved
[N, C] scores against [N] labels (.npy, or .pt tensors).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from backbones.weights import safe_load
from detector.api import Classifier
from detector.cli import UserError, add_bvlc_mean_arg
from detector.engine.distributed import setup
from detector.engine.precision import PRECISIONS
from detector.eval import topk_error

from ..files import write_json


def _read(path: str, what: str) -> torch.Tensor:
    p = Path(path)
    if p.suffix == ".npy":
        if not p.is_file():
            raise UserError(f"{p}: {what} file not found")
        try:
            return torch.from_numpy(np.load(p, allow_pickle=False))
        except ValueError as e:
            raise UserError(f"{p}: not a .npy array ({e})") from None
    obj = safe_load(p, f"{what} file")
    if not isinstance(obj, torch.Tensor):
        raise UserError(f"{p}: expected a tensor of {what}, got {type(obj).__name__}")
    return obj


def _scores_mode(args) -> dict:
    scores, labels = _read(args.scores, "scores"), _read(args.labels, "labels")
    if scores.ndim != 2 or labels.ndim != 1 or len(scores) != len(labels):
        raise UserError(f"scores must be [N, C] and labels [N]; got {list(scores.shape)} and {list(labels.shape)}")
    if labels.is_floating_point() or labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise UserError(f"{args.labels}: labels must be integers in [0, {scores.shape[1] - 1}]")
    res = {**topk_error(scores.float(), labels.long()), "images": len(labels)}
    print(f"top-1 error {res['top1_error']:.2%}   top-5 error {res['top5_error']:.2%}   ({res['images']} images)")
    return res


def _ckpt_mode(args) -> dict:
    ctx = setup(args.device)
    if args.precision != "int8" and (args.calib or args.save_int8):
        raise UserError("--calib and --save-int8 go with --precision int8")
    if args.precision == "int8" and not args.calib:
        raise UserError("--precision int8 needs --calib: an ImageFolder split (e.g. the train folder) or saved files")
    calib = args.calib[0] if args.calib and len(args.calib) == 1 else args.calib
    clf = Classifier.load(
        args.ckpt, ctx.device, bvlc_mean=args.bvlc_mean, precision=args.precision, calib=calib, compile=args.compile
    )
    if args.save_int8:
        print("int8 calibration: " + ", ".join(str(p) for p in clf.save_int8(args.save_int8)))
    res = clf.evaluate(args.data, args.crops, args.table3, args.workers, ctx)
    skipped, res["skipped"] = res["skipped"], len(res["skipped"])
    print(f"{len(res['models'])} model(s), {args.crops} crop(s): top-1 error {res['top1_error']:.2%}, "
          f"top-5 error {res['top5_error']:.2%} ({res['images']} images)")  # fmt: skip
    if skipped:
        print(f"skipped {len(skipped)} unreadable images (e.g. {skipped[0]})")
    if args.table3:
        print(f"{'models':>7} {'crops':>6} {'top-1 err':>10} {'top-5 err':>10}")
        for r in res["table3"]:
            print(f"{r['models']:>7} {r['crops']:>6} {r['top1_error']:>10.2%} {r['top5_error']:>10.2%}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="ImageFolder split to evaluate on")
    ap.add_argument("--ckpt", nargs="+", help="one or more checkpoints (an ensemble)")
    add_bvlc_mean_arg(ap)
    ap.add_argument("--crops", type=int, choices=(1, 10, 144), default=1)
    ap.add_argument("--table3", action="store_true", help="also 1 model vs all, 1 crop vs --crops")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS, help="the network's arithmetic")
    ap.add_argument(
        "--calib", nargs="+", help="--precision int8: an ImageFolder split, or saved files (one per --ckpt)"
    )
    ap.add_argument("--save-int8", nargs="+", help="--precision int8: write each checkpoint's calibration here")
    ap.add_argument("--compile", action="store_true", help="the network through torch.compile (fp32, bf16)")
    ap.add_argument("--scores", help="saved [N, C] scores (.npy or .pt) instead of --data/--ckpt")
    ap.add_argument("--labels", help="saved [N] labels, with --scores")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)
    if args.scores or args.labels:
        if not (args.scores and args.labels):
            raise UserError("--scores and --labels go together")
        res = _scores_mode(args)
    elif args.data and args.ckpt:
        res = _ckpt_mode(args)
    else:
        raise UserError("give --data and --ckpt, or --scores and --labels")
    if args.json:
        write_json(args.json, res)
    return 0
