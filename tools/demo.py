#!/usr/bin/env python
"""The backbone on a generated image: predicted top-5, the image and the resolved config saved.

tools/demo.py [--config configs/demo.yaml] [--opts key=value ...]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from backbones import IMAGENET_MEAN, IMAGENET_STD, for_inference
from detector.backbone import ModelConfig, build_backbone
from detector.cli import UserError, run_tool
from detector.config import load_config, save_config


@dataclass
class DemoConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    image_size: int = 224
    seed: int = 0
    class_names: str | None = None
    out: str = "outputs/demo"


def generated_image(size: int, seed: int) -> np.ndarray:
    """A ``[size, size, 3]`` uint8 RGB scene: a smooth background and a few filled shapes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([yy * 200, xx * 160 + 40, (1 - yy) * 120 + 60], -1).astype(np.uint8)
    for _ in range(4):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy, r = (int(v) for v in rng.integers(size // 8, size - size // 8, 3) // np.array([1, 1, 4]))
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), max(r, 4), color, -1)
        else:
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), color, -1)
    return img


def read_class_names(path: str | None, num_classes: int) -> list[str]:
    if path is None:
        return [f"class {i}" for i in range(num_classes)]
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: class names file not found")
    names = [line.split(" ", 1)[-1].split(",")[0].strip() for line in p.read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise UserError(f"{p}: has {len(names)} class names, the model has {num_classes} classes")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--opts", nargs="*", default=[], help="dotted overrides, e.g. model.variant=paper")
    args = ap.parse_args(argv)
    cfg = load_config(DemoConfig, args.config, args.opts)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")

    torch.manual_seed(cfg.seed)
    names = read_class_names(cfg.class_names, cfg.model.num_classes)
    model = for_inference(build_backbone(cfg.model))
    img = generated_image(cfg.image_size, cfg.seed)
    cv2.imwrite(str(out / "input.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    x = torch.from_numpy(img).permute(2, 0, 1).float().div(255).unsqueeze(0)
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    t0 = time.perf_counter()
    with torch.inference_mode():
        probs = model(x).softmax(1)[0]
    ms = (time.perf_counter() - t0) * 1000
    top = probs.topk(5)
    source = cfg.model.weights or "random initialization (set model.weights=PATH for trained weights)"
    print(f"GoogLeNet '{cfg.model.variant}' with {source}; {cfg.image_size}x{cfg.image_size} image, {ms:.0f} ms")
    preds = []
    for rank, (p, i) in enumerate(zip(top.values.tolist(), top.indices.tolist(), strict=True), 1):
        print(f"  top-{rank}: {names[i]:<30} {p:.4f}")
        preds.append({"rank": rank, "class": i, "name": names[i], "prob": p})
    (out / "predictions.json").write_text(json.dumps({"weights": cfg.model.weights, "top5": preds}, indent=2))
    print(f"outputs: {out}/ (input.jpg, predictions.json, config.yaml)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
