#!/usr/bin/env python
"""Compute region proposals for a split into a per-image cache (resumable, parallel, torchrun-sharded).

tools/proposals.py --data ROOT|ANN.json --split NAME --out DIR [--config det.yaml] [--opts key=value ...]
    [--method ss|multibox|combined] [--multibox-ckpt MB.pth] [--workers N]
    [--mode fast|quality|single] [--k-scale 2.0] [--resize-width 500|0] [--min-size 2]
torchrun --nproc_per_node=N tools/proposals.py ...   (each rank takes its share of the images)

Settings: a detector config's proposals: section (--config), then --opts, then the flags; saved
as OUT/proposals.yaml (detector.commands.proposals).
"""

from __future__ import annotations

from detector.cli import run_tool
from detector.commands.proposals import main as proposals_main


def main(argv: list[str] | None = None) -> int:
    return proposals_main(argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
