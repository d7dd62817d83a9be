"""``tools/benchmark.py onnx``: region-network throughput, PyTorch against onnxruntime (CPU).

For each network, the same batch runs through PyTorch's inference path (``for_inference``:
BN folded, 1x1s merged, channels_last, ``inference_mode``) and through onnxruntime on the file
:mod:`detector.deploy.export` writes, alternately in one run, with the same thread count. The
outputs are compared too. Networks (random weights; 200 classes, ILSVRC DET's count):

- ``rcnn paper`` / ``rcnn bn``: the ``rcnn`` region network on warped 224 px crops;
- ``rcnn bn 64``: the same on 64 px crops (the demo classifier's input, as on BCCD), 4x the batch;
- ``fast trunk bn``: the ``fast`` trunk on a 480x640 image, up to ``inception_4e``;
- ``fast head bn``: the ``fast`` head on RoIAlign-pooled ``inception_4e`` regions (8x8).

``--precision`` adds our other paths on the same inputs, each with its regions/s, its ratio to
onnxruntime fp32 and its largest probability difference from fp32 (the trunk: the largest
feature difference relative to the largest feature): ``compiled`` (``torch.compile``, inductor
with freezing; compile time reported), ``bf16`` (autocast; with ``compiled`` also both),
``int8`` (:mod:`backbones.quantize`,
calibrated on the timed batch itself: a speed measurement, not an accuracy one).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from backbones import googlenet
from backbones.onnx_export import ort_session, run_session
from backbones.quantize import quantize_int8

from ..classify.precision import Autocast
from ..deploy.export import detector_files, export_detector
from ..deploy.networks import Head, RegionNet, Trunk
from ..engine.precision import check_precision
from ..errors import UserError
from ..rcnn.model import HeadConfig, RegionDetector, fold_for_inference, with_backbone
from .timing import median_seconds

CPU = torch.device("cpu")


def _detector(variant: str, mode: str, classes: int, input_size: int = 224) -> RegionDetector:
    torch.manual_seed(0)
    cfg = HeadConfig(mode=mode, roi_size=8, input_size=input_size)
    return RegionDetector(googlenet(variant, aux_logits=False), classes, cfg).eval()


def _parts(model: RegionDetector, part: str) -> type:
    return {"region": RegionNet, "head": Head, "trunk": Trunk}[part]


def _int8(model: RegionDetector, part: str, x: torch.Tensor) -> torch.nn.Module:
    c = model.cfg
    seg = {"region": (None, "inception_5b"), "head": (c.roi_tap, "inception_5b"), "trunk": (None, c.roi_tap)}[part]
    return _parts(model, part)(with_backbone(model, quantize_int8(model.backbone, {seg: [x]})))


def _variants(model, part, x, ref, ort_s, repeats, precisions) -> dict:
    folded = fold_for_inference(model)
    nets = {}
    if "compiled" in precisions:
        torch._inductor.config.freezing = True
        t0 = time.perf_counter()
        nets["compiled"] = torch.compile(_parts(model, part)(folded))
        nets["compiled"](x)
        compile_s = time.perf_counter() - t0
    if "bf16" in precisions:
        nets["bf16"] = Autocast(_parts(model, part)(folded))
    if "bf16" in precisions and "compiled" in precisions:
        nets["bf16 compiled"] = torch.compile(Autocast(_parts(model, part)(folded)))  # freezing: set above
    if "int8" in precisions:
        nets["int8"] = _int8(model, part, x)
    out = {}
    for name, net in nets.items():
        got = net(x)
        sec = median_seconds(lambda n=net: n(x), CPU, repeats)
        out[name] = {"regions_per_s": len(x) / sec, "vs_onnxruntime": ort_s / sec, "max_diff": _diff(ref, got)}
        if name == "compiled":
            out[name]["compile_seconds"] = compile_s
    return out


def _diff(ref, got) -> float:
    if isinstance(ref, tuple):
        return (ref[0] - got[0]).abs().max().item()
    return ((ref - got).abs().max() / ref.abs().max()).item()


def _measure(
    name: str, model: RegionDetector, part: str, x: torch.Tensor, tmp: Path, repeats: int, threads: int,
    precisions: tuple[str, ...] = (),
) -> dict:  # fmt: skip
    out = tmp / f"{name.replace(' ', '_')}.onnx"
    export_detector(model, out)
    path = detector_files(out, model.cfg.mode)[part]
    session = ort_session(path, threads)
    net = _parts(model, part)(fold_for_inference(model))
    with torch.inference_mode():
        ref = net(x)
        got = run_session(session, x)
        torch_s = median_seconds(lambda: net(x), CPU, repeats)
        ort_s = median_seconds(lambda: run_session(session, x), CPU, repeats)
        variants = _variants(model, part, x, ref, ort_s, repeats, precisions)
    return {
        "network": name,
        "batch": list(x.shape),
        "torch_regions_per_s": len(x) / torch_s,
        "onnxruntime_regions_per_s": len(x) / ort_s,
        "onnxruntime_speedup": torch_s / ort_s,
        "max_prob_diff": _diff(ref, got if isinstance(ref, tuple) else got[0]),
        "file_mib": path.stat().st_size / 2**20,
        "variants": variants,
    }


def run(batch: int = 32, repeats: int = 5, classes: int = 200, precision: str = "", **_: object) -> dict:
    threads = torch.get_num_threads()
    precisions = tuple(p.strip() for p in precision.split(",") if p.strip() and p.strip() != "fp32")
    unknown = [p for p in precisions if p not in ("compiled", "bf16", "int8")]
    if unknown:
        raise UserError(f"--precision: {unknown} not among fp32, compiled, bf16, int8")
    if "bf16" in precisions:
        check_precision("bf16", CPU)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        cases = [
            ("rcnn paper", _detector("paper", "rcnn", classes), "region", torch.randn(batch, 3, 224, 224)),
            ("rcnn bn", _detector("bn", "rcnn", classes), "region", torch.randn(batch, 3, 224, 224)),
        ]
        if precisions:
            cases += [
                ("rcnn bn 64", _detector("bn", "rcnn", classes, 64), "region", torch.randn(batch * 4, 3, 64, 64)),
                ("fast trunk bn", _detector("bn", "fast", classes), "trunk", torch.randn(1, 3, 480, 640)),
            ]
        cases.append(
            ("fast head bn", _detector("bn", "fast", classes), "head", torch.randn(batch * 4, 832, 8, 8).relu())
        )
        for name, model, part, x in cases:
            rows.append(_measure(name, model, part, x, Path(tmp), repeats, threads, precisions))
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
        for name, v in r.get("variants", {}).items():
            extra = f" (compiled in {v['compile_seconds']:.0f} s)" if "compile_seconds" in v else ""
            lines.append(
                f"{'  ' + name:<14} {'':>20} {v['regions_per_s']:>12.1f} {'':>10} {v['vs_onnxruntime']:>9.2f}x "
                f"{v['max_diff']:>9.1e}{extra}   (ours {name} against onnxruntime fp32)"
            )
    return "\n".join(lines)
