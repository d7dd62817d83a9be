"""Train the R-CNN region classifier on a COCO-JSON or VOC/ILSVRC-XML dataset (one process or torchrun).

Your own dataset in one command (every stage, then the test split once; RUN/<stage>/ each):
    tools/train_det.py --config configs/voc_custom.yaml --data DIR --init CLS_CKPT --out RUN [--auto] [--resume]
One stage, as named (OUT/final.pth):
    tools/train_det.py --config configs/demo_det.yaml --data ROOT|ANN.json [--images DIR]
        --train-split NAME --val-split NAME|VAL.json [--val-images DIR] [--class-map map_det.txt] --out DIR
        [--init CLS_CKPT] [--proposals DIR] [--resume] [--opts key=value ...]

An XML dataset named without --train-split trains on `train`, validates on `val` and tests on
`test` where it lists them. The run has stages (detector.pipeline) when it tests (--test-split,
or that default), chooses settings from the data (--auto, or pipeline.auto in the config), or
needs more than one training: a MultiBox network first (proposals multibox/combined without
proposals.multibox_ckpt) or `rcnn` before `fast` (pipeline.init_from: rcnn). Each stage then
writes RUN/<stage>/ and --resume continues at the stage that stopped.
"""

from __future__ import annotations

import argparse

from detector.cli import UserError, add_run_args, run_config, training_done
from detector.pipeline import Splits, prepare, run_pipeline, stage_names, with_defaults
from detector.pipeline.settings import split_opts
from detector.rcnn.config import DetTrainConfig
from detector.rcnn.train import train_detector


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_args(
        ap, "VOC/ILSVRC folder, or a COCO .json (then --val-split and --test-split are other .json files)",
        "backbone from a train_cls, train_det or train_multibox checkpoint, torchvision-format weights, "
        "or an ONNX BVLC GoogLeNet (paper variant; its BGR mean is model.bvlc_mean)",
    )  # fmt: skip
    ap.add_argument("--images", help="image folder of a COCO training file")
    ap.add_argument("--val-images", help="image folder of a COCO validation file (default: found beside it)")
    ap.add_argument("--test-images", help="image folder of a COCO test file (default: found beside it)")
    ap.add_argument("--class-map", help="XML datasets: map_det.txt-style class list (ILSVRC synset index name)")
    ap.add_argument("--train-split", help="split list of an XML dataset (ImageSets/Main/<name>.txt; default: train)")
    ap.add_argument("--val-split", help="split list (XML) or COCO .json evaluated after each eval_every epochs")
    ap.add_argument("--test-split", help="split list (XML) or COCO .json scored once at the end (RUN/test/)")
    ap.add_argument(
        "--auto",
        action="store_true",
        help="choose the data-dependent settings from the training split's report (printed with reasons)",
    )
    ap.add_argument("--proposals", help="one stage: proposal cache folder (filled on first use; default OUT/proposals)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    splits = with_defaults(Splits(args.data, args.train_split, args.val_split, args.test_split, args.images,
                                  args.val_images, args.test_images, args.class_map))  # fmt: skip
    det_opts, mb_opts = split_opts(args.opts)
    cfg = run_config(DetTrainConfig, argparse.Namespace(**{**vars(args), "opts": det_opts}))
    if args.auto or cfg.pipeline.auto or splits.test or len(stage_names(cfg, False)) > 1 or mb_opts:
        if args.proposals:
            raise UserError(f"--proposals: a run with stages keeps its proposals in {args.out}/proposals")
        settings, data = prepare(args.config, args.opts, args.init, args.auto, splits, args.out)
        res = run_pipeline(settings, data, splits, args.out, args.resume)
        last = stage_names(settings.det, False)[-1]
        test = res.get("test")
        summary = (
            f"test {settings.det.eval_metric} mAP {test['mAP']:.4f} ({args.out}/test/report.json); " if test else ""
        )
        print(f"done: {summary}weights in {args.out}/{last}/final.pth")
        return 0
    res = train_detector(
        cfg, splits.data, splits.train, splits.val, args.out, args.images, args.proposals, args.resume,
        args.class_map, args.val_images,
    )  # fmt: skip
    print(training_done(args.out, f"val {cfg.eval_metric} mAP {res['mAP']:.4f}" if "mAP" in res else None))
    return 0
