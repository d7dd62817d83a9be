#!/usr/bin/env python
"""Recall of cached proposals: recall@0.5/0.7, ABO/MABO, mean count, seconds per image, recall-vs-number plot.

The command is ``googlenet-det eval-proposals`` once installed; its code and full usage are in
:mod:`detector.commands.eval_proposals` (``tools/eval_proposals.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.eval_proposals import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
