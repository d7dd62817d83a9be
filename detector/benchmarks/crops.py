"""``tools/benchmark.py crops``: seconds per image for the paper's 144-crop evaluation.

A 500x375 image through ``crops`` (one roi_align plus the whole-square resamplings) and the
``bn`` inference path at 224; reported separately and together.
"""

from __future__ import annotations

import time

import torch

from backbones import for_inference, googlenet

from ..classify.crops import crops
from ..classify.evaluate import ensemble_probs


def run(device: str = "cpu", images: int = 3, **_: object) -> dict:
    dev = torch.device(device)
    model = for_inference(googlenet("bn", aux_logits=False)).to(dev)
    img = torch.rand(3, 375, 500, device=dev)
    crops(img, 144, 224, 256)  # warm-up
    ensemble_probs([model], crops(img, 144, 224, 256), [144])

    def timed(fn) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(images):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / images

    crop_s = timed(lambda: crops(img, 144, 224, 256))
    total_s = timed(lambda: ensemble_probs([model], crops(img, 144, 224, 256), [144]))
    one_s = timed(lambda: ensemble_probs([model], crops(img, 1, 224, 256), [1]))
    return {
        "benchmark": "crops",
        "device": str(dev),
        "crop_seconds_per_image": crop_s,
        "seconds_per_image_144": total_s,
        "seconds_per_image_1": one_s,
    }


def format_table(res: dict) -> str:
    return (
        f"crops benchmark on {res['device']}: 144 crops of a 500x375 image in {res['crop_seconds_per_image'] * 1000:.1f} ms; "
        f"144-crop evaluation {res['seconds_per_image_144']:.3f} s/image, 1-crop {res['seconds_per_image_1'] * 1000:.1f} ms/image"
    )
