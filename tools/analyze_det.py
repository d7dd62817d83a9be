#!/usr/bin/env python
"""Why a detector falls short: an error-analysis page (index.html) and analysis.json.

The command is ``googlenet-det analyze`` once installed; its code and full usage are in
:mod:`detector.commands.analyze_det` (``tools/analyze_det.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.analyze_det import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
