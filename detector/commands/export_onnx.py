"""Export a classifier or a detector to ONNX, and check the files with onnxruntime.

    tools/export_onnx.py --ckpt CKPT --out FILE.onnx [--opset 18] [--bvlc-mean caffe|zoo|B,G,R]

CKPT is a train_cls checkpoint, a torchvision-format ImageNet file or an ONNX BVLC GoogLeNet
(a classifier: images [N, 3, 224, 224] -> logits), or a train_det checkpoint (its region
network: rcnn mode warped crops [N, 3, S, S] -> probs [N, K+1] and deltas [N, K+1, 4]; fast mode
FILE_trunk.onnx, images -> feature map, and FILE_head.onnx, pooled regions -> probs and deltas).
Inputs are RGB normalized with the ImageNet mean/std; the input convention of the weights is
inside the graph. The batch (and the trunk's image size) is dynamic. Every file is run by
onnxruntime and compared with PyTorch (to 1e-4); the tool prints the differences it measured.
Serve a detector with tools/infer.py --ckpt CKPT --runtime onnxruntime --onnx FILE.onnx.
"""

from __future__ import annotations

import argparse

from backbones.onnx_export import DEFAULT_OPSET, MIN_OPSET
from detector.cli import add_bvlc_mean_arg
from detector.deploy.export import export_checkpoint


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True, help="classifier or detector checkpoint, or an ONNX BVLC GoogLeNet")
    ap.add_argument("--out", required=True, help="the .onnx file to write (fast detectors: two files beside it)")
    ap.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset, {MIN_OPSET} or later")
    add_bvlc_mean_arg(ap)
    args = ap.parse_args(argv)
    if args.opset < MIN_OPSET:
        ap.error(f"--opset must be {MIN_OPSET} or later, got {args.opset}")
    for f in export_checkpoint(args.ckpt, args.out, args.opset, args.bvlc_mean):
        print(f.line())
    return 0
