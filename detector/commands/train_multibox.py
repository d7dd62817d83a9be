"""Train a MultiBox proposal network on the GoogLeNet backbone (one process or torchrun).

tools/train_multibox.py --config configs/demo_multibox.yaml --data ROOT|ANN.json
    [--train-split train] [--val-split val] [--images DIR] --out DIR [--init CLS_CKPT] [--resume] [--opts k=v ...]
"""

from __future__ import annotations

import argparse

from detector.cli import add_run_args, run_config, training_done
from detector.proposals.multibox import MultiBoxConfig
from detector.proposals.multibox_train import train_multibox


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_args(ap, "VOC/ILSVRC folder, or a COCO .json (then --val-split is another .json)",
                 "backbone from a train_cls (or train_det, train_multibox) checkpoint or an ONNX BVLC GoogLeNet")  # fmt: skip
    ap.add_argument("--train-split", default="train")
    ap.add_argument("--val-split", default="val")
    ap.add_argument("--images", help="image folder of a COCO file")
    args = ap.parse_args(argv)
    cfg = run_config(MultiBoxConfig, args)
    res = train_multibox(cfg, args.data, args.train_split, args.val_split, args.out, args.images, args.resume)
    summary = f"val recall@0.5 {res['recall50']:.2%}, recall@0.7 {res['recall70']:.2%}" if "recall50" in res else None
    print(training_done(args.out, summary))
    return 0
