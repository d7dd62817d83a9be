"""``tools/benchmark.py backbone``: images per second at batch 32, 224x224, in one run.

Compares torchvision's googlenet as users call it (eval, fp32, NCHW), our ``bn`` variant's
``for_inference`` path with the same weights, and our ``paper`` variant through the same path,
and rates each against a large float32 matmul (achieved GFLOP/s as a fraction of it).
"""

from __future__ import annotations

import torch
import torchvision

from backbones import for_inference, googlenet
from backbones.profile import profile_table1

from .timing import matmul_gflops, median_seconds


def run(device: str = "cpu", batch: int = 32, size: int = 224, repeats: int = 8) -> dict:
    dev = torch.device(device)
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
    peak = matmul_gflops(dev)
    rows = []
    for name, (model, macs) in models.items():
        model = model.to(dev)
        with torch.inference_mode():
            sec = median_seconds(lambda m=model: m(x), dev, repeats)
        ips = batch / sec
        gflops = ips * 2 * macs / 1e9
        rows.append({"model": name, "images_per_s": ips, "gflops": gflops, "fraction_of_matmul": gflops / peak})
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
        "rows": rows,
        "targets": {"speedup_vs_torchvision": 1.8, "fraction_of_matmul": 0.65},
    }


def format_table(res: dict) -> str:
    lines = [
        f"backbone benchmark on {res['device']} ({res['threads']} threads), batch {res['batch']}, "
        f"{res['input']}x{res['input']}; float32 matmul {res['matmul_gflops']:.1f} GFLOP/s",
        f"{'model':<42}{'img/s':>9}{'GFLOP/s':>10}{'of matmul':>11}{'vs tv':>8}",
    ]
    for r in res["rows"]:
        lines.append(
            f"{r['model']:<42}{r['images_per_s']:>9.1f}{r['gflops']:>10.1f}"
            f"{r['fraction_of_matmul']:>11.2f}{r['speedup_vs_torchvision']:>7.2f}x"
        )
    t = res["targets"]
    lines.append(
        f"targets: ours bn >= {t['speedup_vs_torchvision']}x torchvision, >= {t['fraction_of_matmul']} of matmul"
    )
    return "\n".join(lines)
