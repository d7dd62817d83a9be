"""``tools/benchmark.py backbone``: images per second at batch 32, 224x224, in one run.

Compares torchvision's googlenet as users call it (eval, fp32, NCHW), our ``bn`` variant's
``for_inference`` path with the same weights, and our ``paper`` variant through the same path,
and rates each against a large float32 matmul (achieved GFLOP/s as a fraction of it).

``--precision fp32,bf16,int8`` adds a row per other precision of ours (``bn``, same weights):
``bf16`` under autocast, ``int8`` quantized (:mod:`backbones.quantize`) beside torchvision's
quantized GoogLeNet (eager, ``x86`` engine) with the same weights, both calibrated on the same
random batches; int8 rows are rated against a large int8 matmul (``torch._int_mm``) too.
With ``int8``, onnxruntime fp32 and int8 (``quantize_static``: QDQ, per-channel weights, the same
calibration batches) run the same network exported to ONNX. ``--compile`` adds ``torch.compile`` (inductor, freezing) of the fp32 and bf16 paths, with the
compile time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
import torchvision

from backbones import for_inference, googlenet
from backbones.onnx_export import export_onnx, ort_session, run_session
from backbones.profile import profile_table1
from backbones.quantize import quantize_int8

from ..classify.precision import Autocast
from ..engine.precision import check_precision
from .timing import matmul_gflops, median_seconds


def int8_matmul_gops(n: int = 2048, repeats: int = 5) -> float:
    """Achieved int8 GOP/s of an ``n x n`` int8 matrix product (``torch._int_mm``, int32 out)."""
    a = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    b = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    return 2 * n**3 / median_seconds(lambda: torch._int_mm(a, b), torch.device("cpu"), repeats) / 1e9


def _torchvision_int8(tv: torch.nn.Module, calib: list[torch.Tensor]) -> torch.nn.Module:
    q = torchvision.models.quantization.googlenet(weights=None, quantize=False, aux_logits=False, init_weights=False)
    q.load_state_dict(tv.state_dict())
    q.eval().fuse_model(is_qat=False)
    torch.backends.quantized.engine = "x86"
    q.qconfig = torch.ao.quantization.get_default_qconfig("x86")
    torch.ao.quantization.prepare(q, inplace=True)
    with torch.inference_mode():
        for x in calib:
            q(x)
    return torch.ao.quantization.convert(q, inplace=True)


class _Batches:
    """onnxruntime's calibration reader over ``[N, 3, H, W]`` batches (its input ``images``)."""

    def __init__(self, batches: list[torch.Tensor]):
        self.it = iter([{"images": b.numpy()} for b in batches])

    def get_next(self):
        return next(self.it, None)


def _onnxruntime(model: torch.nn.Module, calib: list[torch.Tensor], tmp: Path, threads: int) -> dict:
    """onnxruntime fp32 and int8 (``quantize_static``: QDQ, per-channel int8 weights, uint8
    activations, calibrated on ``calib``) of ``model``: ``{name: callable}``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static  # only for these rows

    path = export_onnx(model, (calib[0][:2],), tmp / "googlenet.onnx", ["images"], ["logits"], {"images": {0: "n"}})
    q_path = tmp / "googlenet_int8.onnx"
    quantize_static(str(path), str(q_path), _Batches(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
    fp32, int8 = ort_session(path, threads), ort_session(q_path, threads)
    return {
        "onnxruntime fp32": lambda x: run_session(fp32, x),
        "onnxruntime int8 (QDQ, per-channel)": lambda x: run_session(int8, x),
    }


def _compiled(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.nn.Module, float]:
    torch._inductor.config.freezing = True  # weights as constants: folded and prepacked for oneDNN
    compiled = torch.compile(model)
    t0 = time.perf_counter()
    with torch.inference_mode():
        compiled(x)
    return compiled, time.perf_counter() - t0


def _precision_models(ours_bn, tv, precisions, compile_, x, dev, tmp: Path) -> dict:
    """``{row name: (model, compile seconds or None, int8?)}`` for the precision rows."""
    out = {}
    fp32 = for_inference(ours_bn).to(dev)
    if compile_:
        m, sec = _compiled(fp32, x)
        out["ours bn, compiled"] = (m, sec, False)
    if "bf16" in precisions:
        out["ours bn, bf16 autocast"] = (Autocast(fp32), None, False)
        if compile_:
            m, sec = _compiled(Autocast(for_inference(ours_bn).to(dev)), x)
            out["ours bn, bf16 autocast, compiled"] = (m, sec, False)
    if "int8" in precisions:
        g = torch.Generator().manual_seed(1)
        calib = [torch.randn(16, 3, x.shape[2], x.shape[3], generator=g) for _ in range(4)]
        out["torchvision quantized googlenet (x86)"] = (_torchvision_int8(tv, calib), None, True)
        out["ours bn, int8"] = (quantize_int8(ours_bn, {(None, "inception_5b"): calib}), None, True)
        for name, fn in _onnxruntime(ours_bn.eval(), calib, tmp, torch.get_num_threads()).items():
            out[name] = (fn, None, "int8" in name)
    return out


def run(device: str = "cpu", batch: int = 32, size: int = 224, repeats: int = 8, precision: str = "fp32",
        compile: bool = False) -> dict:  # fmt: skip
    dev = torch.device(device)
    precisions = [p.strip() for p in precision.split(",") if p.strip()]
    for p in precisions:
        check_precision(p, dev)
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval()
    ours_bn = googlenet("bn", aux_logits=False)
    ours_bn.load_state_dict(tv.state_dict())
    models = {
        "torchvision googlenet (eval, fp32, NCHW)": (tv, profile_table1(tv, size)["total_macs"]),
        "ours bn, for_inference": (for_inference(ours_bn), profile_table1(ours_bn, size)["total_macs"]),
        "ours paper, for_inference": (
            for_inference(googlenet("paper", aux_logits=False)),
            profile_table1(googlenet("paper", aux_logits=False), size)["total_macs"],
        ),
    }
    x = torch.randn(batch, 3, size, size, device=dev)
    macs_bn = models["ours bn, for_inference"][1]
    tmp = tempfile.TemporaryDirectory(prefix="bench-backbone-")
    extra = _precision_models(ours_bn, tv, precisions, compile, x, dev, Path(tmp.name))
    peak = matmul_gflops(dev)
    int8_peak = int8_matmul_gops() if "int8" in precisions else None
    rows = []
    for name, (model, macs, seconds, int8) in {
        **{k: (m, macs, None, False) for k, (m, macs) in models.items()},
        **{k: (m, macs_bn, sec, q) for k, (m, sec, q) in extra.items()},
    }.items():
        model = model.to(dev) if isinstance(model, torch.nn.Module) else model
        with torch.inference_mode():
            sec = median_seconds(lambda m=model: m(x), dev, repeats)
        ips = batch / sec
        gflops = ips * 2 * macs / 1e9
        rows.append({"model": name, "images_per_s": ips, "gflops": gflops, "fraction_of_matmul": gflops / peak,
                     "fraction_of_int8_matmul": gflops / int8_peak if int8 else None, "compile_seconds": seconds})  # fmt: skip
    tmp.cleanup()
    base = rows[0]["images_per_s"]
    for r in rows:
        r["speedup_vs_torchvision"] = r["images_per_s"] / base
    return {
        "benchmark": "backbone",
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "batch": batch,
        "input": size,
        "matmul_gflops": peak,
        "int8_matmul_gops": int8_peak,
        "rows": rows,
        "targets": {"speedup_vs_torchvision": 1.8, "fraction_of_matmul": 0.65},
    }


def format_table(res: dict) -> str:
    lines = [
        f"backbone benchmark on {res['device']} ({res['threads']} threads), batch {res['batch']}, "
        f"{res['input']}x{res['input']}; float32 matmul {res['matmul_gflops']:.1f} GFLOP/s",
        f"{'model':<42}{'img/s':>9}{'GFLOP/s':>10}{'of matmul':>11}{'vs tv':>8}",
    ]
    if res.get("int8_matmul_gops"):
        lines[0] += f"; int8 matmul {res['int8_matmul_gops']:.1f} GOP/s"
    for r in res["rows"]:
        note = ""
        if r.get("fraction_of_int8_matmul") is not None:
            note += f"  {r['fraction_of_int8_matmul']:.2f} of int8 matmul"
        if r.get("compile_seconds") is not None:
            note += f"  (compiled in {r['compile_seconds']:.0f} s)"
        lines.append(
            f"{r['model']:<42}{r['images_per_s']:>9.1f}{r['gflops']:>10.1f}"
            f"{r['fraction_of_matmul']:>11.2f}{r['speedup_vs_torchvision']:>7.2f}x{note}"
        )
    t = res["targets"]
    lines.append(
        f"targets: ours bn >= {t['speedup_vs_torchvision']}x torchvision, >= {t['fraction_of_matmul']} of matmul"
    )
    return "\n".join(lines)
