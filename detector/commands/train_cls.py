"""Classification pre-training of GoogLeNet (the paper's recipe), one process or torchrun.

    tools/train_cls.py --config configs/demo_cls.yaml --data DIR --out DIR [--resume] [--opts k=v ...]
    torchrun --nproc_per_node=N tools/train_cls.py ...   (DistributedDataParallel)

DIR holds train/ and val/ in the ImageFolder layout (<split>/<class>/<image>).
"""

from __future__ import annotations

import argparse

from detector.classify.config import ClsTrainConfig
from detector.classify.train import train_classifier
from detector.cli import add_run_args, run_config, training_done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_args(ap, "folder with train/ and val/ class folders")
    args = ap.parse_args(argv)
    cfg = run_config(ClsTrainConfig, args)
    res = train_classifier(cfg, args.data, args.out, resume=args.resume)
    print(training_done(args.out, f"val top-1 {res['top1']:.2%}, top-5 {res['top5']:.2%}" if "top1" in res else None))
    return 0
