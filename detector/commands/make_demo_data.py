"""Generate the embedded demo dataset (classification and detection, all formats).

tools/make_demo_data.py --out DIR [--seed 0] [--size default|tiny] [--opts key=value ...]
"""

from __future__ import annotations

import argparse
import time

from detector.config import load_config, parse_opts
from detector.demo_data import DemoDataConfig, make_demo_data
from detector.demo_data.writer import PRESETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", choices=sorted(PRESETS), default="default", help="dataset size preset")
    ap.add_argument("--opts", nargs="*", default=[], help="DemoDataConfig overrides, e.g. det_train=1000")
    args = ap.parse_args(argv)
    preset = [f"{k}={v}" for k, v in PRESETS[args.size].items()]
    parse_opts(args.opts)  # fail early on malformed overrides
    cfg = load_config(DemoDataConfig, None, [*preset, f"seed={args.seed}", *args.opts])
    t0 = time.perf_counter()
    manifest = make_demo_data(args.out, cfg)
    c = manifest["counts"]
    print(
        f"demo data in {args.out}: classification {c['cls_train']} train / {c['cls_val']} val images, "
        f"detection {c['det_train_images']} train / {c['det_val_images']} val images with "
        f"{c['det_train_boxes']} / {c['det_val_boxes']} boxes, {len(manifest['classes'])} classes "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return 0
