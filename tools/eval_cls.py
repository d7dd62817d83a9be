#!/usr/bin/env python
"""Top-1 and top-5 classification error from saved scores.

    tools/eval_cls.py --scores SCORES --labels LABELS [--json out.json]

SCORES: ``[N, C]`` scores (logits or probabilities), LABELS: ``[N]`` class indices, each a
``.npy`` file or a ``.pt`` tensor (read with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from backbones.weights import safe_load
from detector.cli import UserError, run_tool
from detector.eval import topk_error


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--json", help="write {top1_error, top5_error, images} here")
    args = ap.parse_args(argv)
    scores, labels = _read(args.scores, "scores"), _read(args.labels, "labels")
    if scores.ndim != 2 or labels.ndim != 1 or len(scores) != len(labels):
        raise UserError(f"scores must be [N, C] and labels [N]; got {list(scores.shape)} and {list(labels.shape)}")
    if labels.is_floating_point() or labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise UserError(f"{args.labels}: labels must be integers in [0, {scores.shape[1] - 1}]")
    res = {**topk_error(scores.float(), labels.long()), "images": len(labels)}
    print(f"top-1 error {res['top1_error']:.2%}   top-5 error {res['top5_error']:.2%}   ({res['images']} images)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
