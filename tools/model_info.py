#!/usr/bin/env python
"""Print GoogLeNet's Table 1 as computed from the real modules (forward hooks).

The command is ``googlenet-det model-info`` once installed; its code and full usage are in
:mod:`detector.commands.model_info` (``tools/model_info.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.model_info import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
