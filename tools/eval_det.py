#!/usr/bin/env python
"""Score detections with the COCO, VOC07, VOC or ILSVRC metric: from a results file, or by running

The command is ``googlenet-det eval-det`` once installed; its code and full usage are in
:mod:`detector.commands.eval_det` (``tools/eval_det.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.eval_det import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
