"""``tools/benchmark.py detect``: seconds per image of the detectors on one 640x480 image.

The same image and the same 2,000 proposals go through: ``rcnn`` (every region warped with
context to 224x224 and run through the whole network, 128 at a time), ``fast`` (one trunk pass
at 600 px, RoIAlign on ``inception_4e`` to 8x8, ``inception_5a``/``5b`` per region at 4x4), a 2-model ensemble
of each, ``fast`` with the trunk at 3 scales (300, 600, 900 px; ``head.image_scales``), ``fast``
pooling from shallower taps (:data:`TAP_ROWS`: ``inception_3b`` at stride 8, 8x8, so
``inception_4a``-``5b`` run per region, the BCCD configuration of ``configs/voc_custom.yaml``;
``inception_3a``, 8x8; ``conv2`` at stride 4, 16x16), and
torchvision's ``fasterrcnn_resnet50_fpn`` (random weights, its own RPN and default
800 px resize) as the usual alternative. All ours are ``bn`` GoogLeNets with 200 classes (ILSVRC
DET) and box regression, BN folded, channels_last, under ``torch.inference_mode()``.

For ``rcnn`` it also compares regions per second (warping, network, heads, NMS) with the plain
backbone's throughput on ready ``[region_chunk, 3, 224, 224]`` batches: the difference is what
warping and batching cost. Given demo
checkpoints, it reports their VOC mAP@0.5 on demo val and their seconds per demo image.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

from backbones import googlenet

from ..api import Detector
from ..data import load_dataset
from ..eval import evaluate_detections
from ..rcnn.config import DetTrainConfig
from ..rcnn.model import HeadConfig, RegionDetector, fold_for_inference
from ..rcnn.predict import LoadedDetector
from .timing import median_seconds, sync


def bench_image(width: int = 640, height: int = 480, proposals: int = 2000, seed: int = 0):
    """A smooth random ``[3, H, W]`` normalized image and ``[P, 4]`` proposals of 16 to 480 px."""
    g = torch.Generator().manual_seed(seed)
    image = F.interpolate(torch.randn(1, 3, height // 16, width // 16, generator=g), size=(height, width),
                          mode="bicubic", align_corners=False)[0]  # fmt: skip
    wh = 16 + torch.rand(proposals, 2, generator=g) * (torch.tensor([width, height]) - 16)
    xy = torch.rand(proposals, 2, generator=g) * (torch.tensor([width, height]) - wh)
    return image, torch.cat([xy, xy + wh], 1)


MULTISCALE = (0.5, 1.0, 1.5)  # the trunk at 300, 600 and 900 px ...
FAST3 = "fast, 3 scales (300/600/900 px)"  # ... in this row
TAP_ROWS = {"inception_3b": 8, "inception_3a": 8, "conv2": 16}  # fast from a shallower tap: RoIAlign size


def tap_row(tap: str) -> str:
    return f"fast, {tap} tap ({TAP_ROWS[tap]}x{TAP_ROWS[tap]})"


def _member(
    mode: str,
    classes: int,
    device: torch.device,
    seed: int,
    scales=(1.0,),
    tap: str = "inception_4e",
    roi_size: int = 8,
) -> LoadedDetector:
    torch.manual_seed(seed)
    head = HeadConfig(mode=mode, input_size=224, context=16, image_size=600, max_image_size=1000,
                      image_scales=tuple(scales), roi_tap=tap, roi_size=roi_size)  # fmt: skip
    model = RegionDetector(googlenet("bn", aux_logits=False), classes, head).eval()
    cfg = DetTrainConfig(head=head)
    return LoadedDetector(fold_for_inference(model).to(device), cfg, [str(i) for i in range(classes)], [], "random")


def _demo_map(ckpt: Path, data: Path, proposals: Path, device: torch.device) -> dict:

    det = Detector.load(ckpt, device)
    ds = load_dataset(data, "val", class_names=det.class_names)
    t0 = time.perf_counter()
    split = det.detect_split(ds, proposals, progress=False)
    secs = (time.perf_counter() - t0) / len(ds.records)
    return {"ckpt": str(ckpt), "map50": evaluate_detections(ds, split.results, "voc").report["mAP"],
            "seconds_per_image": secs}  # fmt: skip


def run(device: str = "cpu", proposals: int = 2000, classes: int = 200, repeats: int = 1,
        demo: Path | None = Path("outputs/demo")) -> dict:  # fmt: skip
    dev = torch.device(device)
    image, boxes = bench_image(proposals=proposals)
    rgb = ((image * 0.225 + 0.45).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()  # what a user passes
    rcnn, rcnn2, fast, fast2 = (
        _member(m, classes, dev, s) for m, s in (("rcnn", 0), ("rcnn", 1), ("fast", 0), ("fast", 1))
    )
    fast3 = _member("fast", classes, dev, 0, MULTISCALE)
    taps = {tap_row(t): [_member("fast", classes, dev, 0, tap=t, roi_size=n)] for t, n in TAP_ROWS.items()}
    rows = {}
    for name, members in {"rcnn": [rcnn], "fast": [fast], FAST3: [fast3], **taps,
                          "rcnn 2-model ensemble": [rcnn, rcnn2], "fast 2-model ensemble": [fast, fast2]}.items():  # fmt: skip
        det = Detector(members)
        det(rgb, proposals=boxes[:256])  # warm-up on a few regions (rcnn takes ~40 s per 2,000 on 2 cores)
        rows[name] = median_seconds(lambda d=det: d(rgb, proposals=boxes), dev, repeats, warmup=0)
    frcnn = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval().to(dev)
    raw = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255).to(dev)
    with torch.inference_mode():
        rows["torchvision fasterrcnn_resnet50_fpn"] = median_seconds(lambda: frcnn([raw]), dev, max(repeats, 3))
    # rcnn regions/s (warp, network, heads, NMS) against the plain backbone on ready batches of the same size
    chunk = rcnn.cfg.head.region_chunk
    trunk = rcnn.model.backbone
    batch = torch.randn(chunk, 3, 224, 224, device=dev)
    n_batches = max(2, 512 // chunk)
    with torch.inference_mode():
        plain = chunk * n_batches / median_seconds(lambda: [trunk(batch) for _ in range(n_batches)], dev, 3, warmup=1)
    sync(dev)
    res = {
        "benchmark": "detect",
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "image": [640, 480],
        "proposals": proposals,
        "classes": classes,
        "region_chunk": chunk,
        "seconds_per_image": rows,
        "fast_over_rcnn_speed": rows["rcnn"] / rows["fast"],
        "fast_3_scales_over_rcnn_speed": rows["rcnn"] / rows[FAST3],
        "fast_taps_over_rcnn_speed": {t: rows["rcnn"] / rows[tap_row(t)] for t in TAP_ROWS},
        "fast_vs_fasterrcnn": rows["torchvision fasterrcnn_resnet50_fpn"] / rows["fast"],
        "rcnn_regions_per_s": proposals / rows["rcnn"],
        "backbone_images_per_s": plain,
        "rcnn_overhead": plain / (proposals / rows["rcnn"]) - 1,
        "targets": {"rcnn_overhead": 0.10, "fast_vs_fasterrcnn": 1.0},
    }
    if demo is not None:
        res["demo"] = {
            mode: _demo_map(demo / sub / "final.pth", demo / "data" / "det", demo / "det" / "proposals", dev)
            for mode, sub in (("rcnn", "det"), ("fast", "det_fast"))
            if (demo / sub / "final.pth").is_file()
        }
        if len(res["demo"]) == 2:
            d = res["demo"]
            res["demo_fast_over_rcnn_speed"] = d["rcnn"]["seconds_per_image"] / d["fast"]["seconds_per_image"]
    return res


def format_table(res: dict) -> str:
    lines = [
        f"detect benchmark on {res['device']} ({res['threads']} threads): one 640x480 image, "
        f"{res['proposals']} proposals, {res['classes']} classes",
        f"{'detector':<40}{'s/image':>9}",
    ]
    lines += [f"{k:<40}{v:>9.2f}" for k, v in res["seconds_per_image"].items()]
    taps = ", ".join(f"{v:.1f}x from {t}" for t, v in res["fast_taps_over_rcnn_speed"].items())
    lines.append(f"fast is {res['fast_over_rcnn_speed']:.1f}x faster than rcnn ({res['fast_3_scales_over_rcnn_speed']:.1f}x "
                 f"with 3 scales, {taps}; target >= 20x), "
                 f"{res['fast_vs_fasterrcnn']:.2f}x the speed of Faster R-CNN (target >= 1)")  # fmt: skip
    lines.append(
        f"rcnn: {res['rcnn_regions_per_s']:.1f} regions/s vs the plain backbone's {res['backbone_images_per_s']:.1f} "
        f"images/s: warping and batching cost {res['rcnn_overhead']:+.1%} (target <= +10%)"
    )
    if "demo_fast_over_rcnn_speed" in res:
        lines.append(f"demo val (same proposals): fast is {res['demo_fast_over_rcnn_speed']:.1f}x faster than rcnn")
    for mode, d in res.get("demo", {}).items():
        lines.append(
            f"demo val, {mode}: mAP@0.5 {d['map50']:.4f}, {d['seconds_per_image'] * 1000:.0f} ms/image ({d['ckpt']})"
        )
    return "\n".join(lines)
