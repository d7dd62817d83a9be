#!/usr/bin/env python
"""Speed benchmarks; each subcommand prints a table and writes JSON.

tools/benchmark.py backbone [--device cpu|cuda] [--batch 32] [--input 224] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from detector.benchmarks import backbone
from detector.cli import UserError, run_tool

BENCHMARKS = {"backbone": backbone}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="speed benchmarks")
    ap.add_argument("name", choices=sorted(BENCHMARKS))
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=8, help="timed batches per model (median)")
    ap.add_argument("--json", type=Path, default=None, help="default: outputs/benchmarks/<name>.json")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {args.device}: no CUDA device is available on this machine")
    bench = BENCHMARKS[args.name]
    res = bench.run(device=args.device, batch=args.batch, size=args.input, repeats=args.repeats)
    print(bench.format_table(res))
    out = args.json or Path("outputs/benchmarks") / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
