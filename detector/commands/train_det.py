"""Train the R-CNN region classifier on a COCO-JSON or VOC/ILSVRC-XML dataset (one process or torchrun).

tools/train_det.py --config configs/demo_det.yaml --data ROOT|ANN.json [--images DIR]
    --train-split NAME --val-split NAME|VAL.json [--val-images DIR] [--class-map map_det.txt] --out DIR
    [--init CLS_CKPT] [--proposals DIR]
    [--resume] [--opts key=value ...]
"""

from __future__ import annotations

import argparse

from detector.cli import add_run_args, run_config, training_done
from detector.rcnn.config import DetTrainConfig
from detector.rcnn.train import train_detector


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_args(
        ap, "VOC/ILSVRC folder, or a COCO .json (then --val-split is another .json)",
        "backbone from a train_cls, train_det or train_multibox checkpoint, torchvision-format weights, "
        "or an ONNX BVLC GoogLeNet (paper variant; its BGR mean is model.bvlc_mean)",
    )  # fmt: skip
    ap.add_argument("--images", help="image folder of a COCO training file")
    ap.add_argument("--val-images", help="image folder of a COCO validation file (default: found beside it)")
    ap.add_argument("--class-map", help="XML datasets: map_det.txt-style class list (ILSVRC synset index name)")
    ap.add_argument("--train-split", help="split list of an XML dataset (ImageSets/Main/<name>.txt)")
    ap.add_argument("--val-split", help="split list (XML) or COCO .json evaluated after each eval_every epochs")
    ap.add_argument("--proposals", help="proposal cache folder (filled on first use; default OUT/proposals)")
    args = ap.parse_args(argv)
    cfg = run_config(DetTrainConfig, args)
    res = train_detector(
        cfg, args.data, args.train_split, args.val_split, args.out, args.images, args.proposals, args.resume,
        args.class_map, args.val_images,
    )  # fmt: skip
    print(training_done(args.out, f"val {cfg.eval_metric} mAP {res['mAP']:.4f}" if "mAP" in res else None))
    return 0
