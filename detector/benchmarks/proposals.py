"""``tools/benchmark.py proposals``: selective search images/s with 1 and 2 worker processes on
the same images in one run, and MultiBox images/s (the global head at 224x224, the convolutional
one at 640x480).

Images: 640x480 demo scenes generated into a temporary folder (the size of COCO/BCCD photos);
selective search in fast mode at width 500, as R-CNN ran it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from backbones import googlenet

from ..data import load_voc
from ..demo_data import DemoDataConfig, make_demo_data
from ..engine.distributed import DistContext
from ..proposals.cache import ProposalCache
from ..proposals.extract import extract_selective_search
from ..proposals.multibox import MultiBoxNet, decode_multibox
from ..proposals.multibox_conv import ConvMultiBoxNet
from ..proposals.selective_search import SelectiveSearchConfig


def run(images: int = 12, device: str = "cpu", **_: object) -> dict:
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DemoDataConfig(cls_train_per_class=0, cls_val_per_class=0, det_train=0, det_val=images, det_width=640, det_height=480,
                             min_radius=20, max_radius=120, max_objects=6)  # fmt: skip
        make_demo_data(tmp, cfg, progress=False)
        ds = load_voc(Path(tmp) / "det", "val")
        ss_cfg = SelectiveSearchConfig(mode="fast", resize_width=500)
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = extract_selective_search(
                ds, ProposalCache(Path(tmp) / f"ss{workers}"), ss_cfg, workers, ctx, progress=False
            )
            rates[workers] = res["computed"] / (time.perf_counter() - t0)
            boxes_per_image = res["boxes"] / max(res["computed"], 1)
    dev = torch.device(device)
    net = (
        MultiBoxNet(googlenet("bn", aux_logits=False), torch.rand(200, 4))
        .eval()
        .to(dev, memory_format=torch.channels_last)
    )
    x = torch.randn(16, 3, 224, 224, device=dev).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        decode_multibox(*net(x), [(640, 480)] * 16)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            decode_multibox(*net(x), [(640, 480)] * 16)
        if dev.type == "cuda":
            torch.cuda.synchronize()
    mb_rate = 48 / (time.perf_counter() - t0)
    conv_rate = _conv_rate(dev)
    return {
        "benchmark": "proposals",
        "images": images,
        "ss_boxes_per_image": boxes_per_image,
        "ss_images_per_s_1_worker": rates[1],
        "ss_images_per_s_2_workers": rates[2],
        "ss_speedup": rates[2] / rates[1],
        "target_speedup": 1.8,
        "multibox_images_per_s": mb_rate,
        "conv_multibox_images_per_s": conv_rate,
        "multibox_device": str(dev),
    }


def _conv_rate(dev: torch.device, batch: int = 4, rounds: int = 3) -> float:
    """Images/s of the convolutional MultiBox head (3 levels x 3 priors) on 640x480 inputs (a BCCD
    photo at its own size), decoding and NMS included."""
    net = (
        ConvMultiBoxNet(googlenet("bn", aux_logits=False), torch.full((3, 3, 2), 64.0),
                        ("inception_3b", "inception_4e", "inception_5b"))
        .eval()
        .to(dev, memory_format=torch.channels_last)
    )  # fmt: skip
    x = torch.randn(batch, 3, 480, 640, device=dev).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        decode_multibox(*net(x), [(640, 480)] * batch, 300)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(rounds):
            decode_multibox(*net(x), [(640, 480)] * batch, 300)
        if dev.type == "cuda":
            torch.cuda.synchronize()
    return rounds * batch / (time.perf_counter() - t0)


def format_table(res: dict) -> str:
    return "\n".join(
        [
            f"proposals benchmark: {res['images']} images 640x480, selective search fast at width 500 ({res['ss_boxes_per_image']:.0f} boxes/image)",
            f"  selective search, 1 worker:  {res['ss_images_per_s_1_worker']:.2f} img/s",
            f"  selective search, 2 workers: {res['ss_images_per_s_2_workers']:.2f} img/s ({res['ss_speedup']:.2f}x, target >= {res['target_speedup']}x)",
            f"  MultiBox (K=200, 224x224, batch 16, {res['multibox_device']}): {res['multibox_images_per_s']:.1f} img/s",
            f"  conv MultiBox (3 levels x 3 priors, 640x480, batch 4, top 300): {res['conv_multibox_images_per_s']:.1f} img/s",
        ]
    )
