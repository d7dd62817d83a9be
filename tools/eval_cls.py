#!/usr/bin/env python
"""Top-1/top-5 error of classifiers and ensembles with the paper's 1, 10 or 144 crops.

The command is ``googlenet-det eval-cls`` once installed; its code and full usage are in
:mod:`detector.commands.eval_cls` (``tools/eval_cls.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.eval_cls import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
