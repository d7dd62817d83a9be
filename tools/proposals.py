#!/usr/bin/env python
"""Compute region proposals for a split into a per-image cache (resumable, parallel, torchrun-sharded).

The command is ``googlenet-det proposals`` once installed; its code and full usage are in
:mod:`detector.commands.proposals` (``tools/proposals.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.proposals import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
