"""Speed benchmarks; each prints a table and writes JSON (default outputs/benchmarks/<name>.json).

tools/benchmark.py backbone [--device cpu|cuda] [--batch 32] [--input 224] [--repeats 8] [--precision fp32,bf16,int8]
    [--compile]
tools/benchmark.py eval [--images 5000] [--classes 20] [--dets-per-image 100]
tools/benchmark.py train_cls [--steps 25] [--workers N] [--cache true|false]
tools/benchmark.py crops [--device cpu|cuda] [--images 3]
tools/benchmark.py proposals [--images 12] [--device cpu|cuda]
tools/benchmark.py detect [--device cpu|cuda] [--proposals 2000] [--classes 200] [--demo outputs/demo]
tools/benchmark.py sources --data ROOT --split val --ckpt A/final.pth --ckpt B/final.pth@100 [--images 20]
    [--device cpu|cuda] [--precision fp32,bf16,int8 [--calib-split train]]
tools/benchmark.py onnx [--batch 32] [--repeats 5] [--classes 200] [--precision compiled,bf16,int8]
tools/benchmark.py inspect [--images 1000] [--repeats 3]
tools/benchmark.py realdata [--data ROOT] [--train-split train] [--test-split test] [--minutes 20]
    [--systems ours-rcnn ours-fast ...] [--demo-cls outputs/demo/cls/final.pth] [--subset N] [--device cpu|cuda]
    [--jobs N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from detector.benchmarks import backbone, crops, detect, inspect_data, onnx, proposals, realdata, sources, train_cls
from detector.benchmarks import eval as eval_bench
from detector.cli import UserError

from ..files import write_json


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="speed benchmarks")
    sub = ap.add_subparsers(dest="name", required=True)
    b = sub.add_parser("backbone", help="GoogLeNet images/s vs torchvision and a matmul")
    b.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--input", dest="size", type=int, default=224)
    b.add_argument("--repeats", type=int, default=8, help="timed batches per model (median)")
    b.add_argument("--precision", default="fp32", help="comma-separated: fp32,bf16,int8 (a row of ours for each)")
    b.add_argument("--compile", action="store_true", help="also torch.compile'd fp32 (and bf16) rows")
    e = sub.add_parser("eval", help="seconds per detection metric vs pycocotools")
    e.add_argument("--images", type=int, default=5000)
    e.add_argument("--classes", type=int, default=20)
    e.add_argument("--dets-per-image", type=int, default=100)
    t = sub.add_parser("train_cls", help="train_cls pipeline images/s vs the in-memory step")
    t.add_argument("--steps", type=int, default=25)
    t.add_argument("--workers", type=int, default=None, help="default: configs/demo_cls.yaml's")
    t.add_argument("--cache", type=lambda v: v.lower() in ("1", "true", "yes"), default=None)
    c = sub.add_parser("crops", help="seconds per image of 144-crop evaluation")
    c.add_argument("--device", default="cpu")
    c.add_argument("--images", type=int, default=3)
    pr = sub.add_parser("proposals", help="selective search img/s with 1 and 2 workers; MultiBox img/s")
    pr.add_argument("--images", type=int, default=12)
    pr.add_argument("--device", default="cpu")
    d = sub.add_parser("detect", help="seconds per image: rcnn, fast, ensembles, torchvision Faster R-CNN")
    d.add_argument("--device", default="cpu")
    d.add_argument("--proposals", type=int, default=2000)
    d.add_argument("--classes", type=int, default=200)
    d.add_argument("--repeats", type=int, default=1, help="timed runs per detector (median)")
    d.add_argument("--demo", type=Path, default=Path("outputs/demo"),
                   help="demo output folder: det/ and det_fast/ checkpoints there get their demo val mAP")  # fmt: skip
    _add_sources(sub)
    o = sub.add_parser("onnx", help="region-network regions/s: PyTorch for_inference vs onnxruntime (CPU)")
    o.add_argument("--batch", type=int, default=32, help="crops per rcnn batch (the fast head gets 4x as many regions)")
    o.add_argument("--repeats", type=int, default=5, help="timed batches per runtime (median)")
    o.add_argument("--classes", type=int, default=200)
    o.add_argument("--precision", default="", help="comma-separated: compiled,bf16,int8 (our other paths, a row each)")
    i = sub.add_parser("inspect", help="seconds for the dataset report and --auto's settings (a synthetic VOC set)")
    i.add_argument("--images", type=int, default=1000)
    i.add_argument("--repeats", type=int, default=3)
    r = sub.add_parser("realdata", help="ours vs torchvision Faster R-CNN, same data and training time (VOC layout)")
    r.add_argument("--data", type=Path, default=None, help=f"VOC-format root (default: {realdata.DEFAULT_DATA})")
    r.add_argument("--train-split", default="train")
    r.add_argument("--test-split", default="test")
    r.add_argument("--minutes", type=float, default=20.0, help="training time of each system")
    r.add_argument("--systems", nargs="+", choices=realdata.SYSTEMS, default=None, help="default: all")
    r.add_argument("--demo-cls", type=Path, default=None, help="classifier our systems also start from "
                   "(default: outputs/demo/cls/final.pth)")  # fmt: skip
    r.add_argument("--config", type=Path, default=None, help="our config (default: configs/voc_custom.yaml)")
    r.add_argument("--subset", type=int, default=None, help="first N images of each split (a smoke test)")
    r.add_argument("--out", type=Path, default=None, help="run folders (default: outputs/benchmarks/realdata)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--jobs", type=int, default=1, help="systems trained at once, each on cores/jobs threads")
    for p in (b, e, t, c, pr, d, o, i, r):
        p.add_argument("--json", type=Path, default=None, help="where to write the results")
    return ap


def _add_sources(sub) -> None:
    """``tools/benchmark.py sources``'s arguments."""
    so = sub.add_parser("sources", help="a detector's s/img on each proposal source, proposals included")
    so.add_argument("--data", type=Path, required=True, help="dataset folder or COCO .json")
    so.add_argument("--split", default="val", help="split list of an XML dataset")
    so.add_argument("--ckpt", action="append", required=True,
                    help="train_det checkpoint, PATH@N to score its first N proposals, A+B+C an ensemble (A's "
                         "proposals); repeat to compare")  # fmt: skip
    so.add_argument("--images", type=int, default=20, help="the split's first N images")
    so.add_argument("--device", default="cpu")
    so.add_argument("--precision", default="fp32", help="comma-separated: fp32,bf16,int8 (a row per checkpoint each)")
    so.add_argument("--calib-split", default="train", help="int8: the split of --data it calibrates on")
    so.add_argument("--compile", action="store_true", help="fp32 and bf16 rows through torch.compile")
    so.add_argument("--tta", nargs="+", default=["none"],
                    help="test-time view sets, a row per checkpoint each: none hflip hflip,vflip ...")  # fmt: skip
    so.add_argument("--json", type=Path, default=None, help="where to write the results")


BENCHMARKS = {
    "backbone": backbone,
    "eval": eval_bench,
    "train_cls": train_cls,
    "crops": crops,
    "proposals": proposals,
    "detect": detect,
    "sources": sources,
    "onnx": onnx,
    "inspect": inspect_data,
    "realdata": realdata,
}


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    name, out = args.pop("name"), args.pop("json")
    device = args.get("device", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available on this machine")
    bench = BENCHMARKS[name]
    try:
        res = bench.run(**args)
    except FileNotFoundError as e:
        raise UserError(str(e)) from None
    print(bench.format_table(res))
    out = out or Path("outputs/benchmarks") / f"{name}.json"
    write_json(out, res)
    print(f"wrote {out}")
    return 0
