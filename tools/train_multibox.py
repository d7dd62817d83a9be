#!/usr/bin/env python
"""Train a MultiBox proposal network on the GoogLeNet backbone (one process or torchrun).

The command is ``googlenet-det train-multibox`` once installed; its code and full usage are in
:mod:`detector.commands.train_multibox` (``tools/train_multibox.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.train_multibox import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
