#!/usr/bin/env python
"""Detect objects in images with one trained detector or an ensemble; print, draw and save them.

The command is ``googlenet-det infer`` once installed; its code and full usage are in
:mod:`detector.commands.infer` (``tools/infer.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.infer import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
