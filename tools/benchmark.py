#!/usr/bin/env python
"""Speed benchmarks; each prints a table and writes JSON (default outputs/benchmarks/<name>.json).

The command is ``googlenet-det benchmark`` once installed; its code and full usage are in
:mod:`detector.commands.benchmark` (``tools/benchmark.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.benchmark import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
