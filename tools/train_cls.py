#!/usr/bin/env python
"""Classification pre-training of GoogLeNet (the paper's recipe), one process or torchrun.

The command is ``googlenet-det train-cls`` once installed; its code and full usage are in
:mod:`detector.commands.train_cls` (``tools/train_cls.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.train_cls import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
