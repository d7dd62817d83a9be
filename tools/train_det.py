#!/usr/bin/env python
"""Train the R-CNN region classifier on a COCO-JSON or VOC/ILSVRC-XML dataset (one process or torchrun).

The command is ``googlenet-det train-det`` once installed; its code and full usage are in
:mod:`detector.commands.train_det` (``tools/train_det.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.train_det import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
