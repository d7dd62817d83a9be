"""``tools/benchmark.py onnx``: region-network throughput, PyTorch against onnxruntime (CPU).

For each network, the same batch runs through PyTorch's inference path (``for_inference``:
BN folded, 1x1s merged, channels_last, ``inference_mode``) and through onnxruntime on the file
:mod:`detector.deploy.export` writes, alternately in one run, with the same thread count. The
outputs are compared too. Networks (random weights; 200 classes, ILSVRC DET's count):

- ``rcnn paper`` / ``rcnn bn``: the ``rcnn`` region network on warped 224 px crops;
- ``fast head bn``: the ``fast`` head on RoIAlign-pooled ``inception_4e`` regions (8x8).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from backbones import googlenet
from backbones.onnx_export import ort_session, run_session

from ..deploy.export import detector_files, export_detector
from ..deploy.networks import Head, RegionNet
from ..rcnn.model import HeadConfig, RegionDetector, fold_for_inference
from .timing import median_seconds

CPU = torch.device("cpu")


def _detector(variant: str, mode: str, classes: int) -> RegionDetector:
    torch.manual_seed(0)
    return RegionDetector(googlenet(variant, aux_logits=False), classes, HeadConfig(mode=mode, roi_size=8)).eval()


def _measure(
    name: str, model: RegionDetector, part: str, x: torch.Tensor, tmp: Path, repeats: int, threads: int
) -> dict:
    out = tmp / f"{name.replace(' ', '_')}.onnx"
    export_detector(model, out)
    path = detector_files(out, model.cfg.mode)[part]
    session = ort_session(path, threads)
    folded = fold_for_inference(model)
    net = RegionNet(folded) if part == "region" else Head(folded)
    with torch.inference_mode():
        ref = net(x)
        got = run_session(session, x)
        torch_s = median_seconds(lambda: net(x), CPU, repeats)
        ort_s = median_seconds(lambda: run_session(session, x), CPU, repeats)
    return {
        "network": name,
        "batch": list(x.shape),
        "torch_regions_per_s": len(x) / torch_s,
        "onnxruntime_regions_per_s": len(x) / ort_s,
        "onnxruntime_speedup": torch_s / ort_s,
        "max_prob_diff": (ref[0] - got[0]).abs().max().item(),
        "file_mib": path.stat().st_size / 2**20,
    }


def run(batch: int = 32, repeats: int = 5, classes: int = 200, **_: object) -> dict:
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        for variant in ("paper", "bn"):
            crops = torch.randn(batch, 3, 224, 224)
            rows.append(
                _measure(
                    f"rcnn {variant}", _detector(variant, "rcnn", classes), "region", crops, Path(tmp), repeats, threads
                )
            )
        pooled = torch.randn(batch * 4, 832, 8, 8).relu()
        rows.append(
            _measure("fast head bn", _detector("bn", "fast", classes), "head", pooled, Path(tmp), repeats, threads)
        )
    return {"benchmark": "onnx", "device": "cpu", "threads": threads, "repeats": repeats, "rows": rows}


def format_table(res: dict) -> str:
    lines = [
        f"region networks on the CPU ({res['threads']} threads, median of {res['repeats']}): PyTorch for_inference vs onnxruntime",
        f"{'network':<14} {'batch':>20} {'torch reg/s':>12} {'ort reg/s':>10} {'ort/torch':>10} {'max |dp|':>9} {'file MiB':>9}",
    ]
    for r in res["rows"]:
        lines.append(
            f"{r['network']:<14} {str(r['batch']):>20} {r['torch_regions_per_s']:>12.1f} {r['onnxruntime_regions_per_s']:>10.1f} "
            f"{r['onnxruntime_speedup']:>9.2f}x {r['max_prob_diff']:>9.1e} {r['file_mib']:>9.1f}"
        )
    return "\n".join(lines)
