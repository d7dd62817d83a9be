#!/usr/bin/env python
"""The end-to-end demo on the embedded data: generate it, pre-train the classifier, train MultiBox
and the R-CNN detector, evaluate each, and detect objects in a demo image.

    tools/demo.py [--config configs/demo.yaml] [--opts key=value ...]

Each stage reuses what an earlier run left in the output folder (the data if its manifest
matches, a finished network, or an interrupted one via --resume); OUT/summary.json gets the
numbers. Relative config paths that do not exist here are the repository's, so it runs from any
folder (the outputs go below the current one). The pipeline is :mod:`detector.commands.demo`.
"""

from __future__ import annotations

from detector.cli import run_tool
from detector.commands.demo import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
