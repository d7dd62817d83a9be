#!/usr/bin/env python
"""The end-to-end demo on the embedded data: generate it, pre-train the classifier, evaluate.

    tools/demo.py [--config configs/demo.yaml] [--opts key=value ...]

Each stage reuses what an earlier run left in the output folder (the data if its manifest
matches, a finished classifier, or an interrupted one via --resume); outputs/demo/summary.json
gets the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from detector.classify.config import ClsTrainConfig
from detector.classify.multicrop import evaluate_multicrop, load_classifier
from detector.classify.train import train_classifier
from detector.cli import run_tool
from detector.config import config_to_dict, load_config, save_config
from detector.demo_data import DemoDataConfig, make_demo_data
from detector.engine.distributed import setup
from detector.eval import topk_error


@dataclass
class DemoConfig:
    out: str = "outputs/demo"
    data: DemoDataConfig = field(default_factory=DemoDataConfig)
    cls_config: str = "configs/demo_cls.yaml"
    cls_opts: list[str] = field(default_factory=list)
    eval_crops: list[int] = field(default_factory=lambda: [1, 10])


def _data(cfg: DemoConfig, root: Path) -> Path:
    manifest = root / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["config"] == config_to_dict(cfg.data):
        print(f"[1/3] demo data: reusing {root}")
    else:
        print(f"[1/3] demo data: generating into {root}")
        make_demo_data(root, cfg.data)
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--opts", nargs="*", default=[], help="dotted overrides, e.g. cls_opts=[optim.epochs=3]")
    args = ap.parse_args(argv)
    cfg = load_config(DemoConfig, args.config, args.opts)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cls_cfg = load_config(ClsTrainConfig, cfg.cls_config, cfg.cls_opts)  # fail before any work
    save_config(cfg, out / "config.yaml")
    t0 = time.perf_counter()
    data = _data(cfg, out / "data")

    cls_dir = out / "cls"
    if (cls_dir / "final.pth").is_file():
        print(f"[2/3] classifier: reusing {cls_dir / 'final.pth'}")
    else:
        print(f"[2/3] classifier: training {cfg.cls_config} into {cls_dir}")
        train_classifier(cls_cfg, data / "cls", cls_dir, resume=True)
    t_cls = time.perf_counter() - t0

    print(f"[3/3] classification error on demo val, crops {cfg.eval_crops}")
    ctx = setup("cpu")
    clf = load_classifier(cls_dir / "final.pth", ctx.device)
    res = evaluate_multicrop(data / "cls" / "val", [clf], tuple(cfg.eval_crops), ctx, workers=0)
    errors = {s: topk_error(res["probs"][s][0], res["labels"]) for s in cfg.eval_crops}
    for s, e in errors.items():
        print(
            f"  1 model, {s:>3} crop(s): top-1 error {e['top1_error']:.2%}, top-5 error {e['top5_error']:.2%} ({len(res['labels'])} images)"
        )
    summary = {
        "cls_top1_error": errors[cfg.eval_crops[0]]["top1_error"],
        "cls_top5_error": errors[cfg.eval_crops[0]]["top5_error"],
        "cls_errors_by_crops": {str(s): e for s, e in errors.items()},
        "cls_ckpt": str(cls_dir / "final.pth"),
        "cls_train_seconds": t_cls,
        "seconds": time.perf_counter() - t0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"done in {summary['seconds']:.0f} s; outputs in {out}/ (summary.json, cls/curves.png, cls/final.pth)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
