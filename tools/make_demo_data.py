#!/usr/bin/env python
"""Generate the embedded demo dataset (classification and detection, all formats).

The command is ``googlenet-det make-demo-data`` once installed; its code and full usage are in
:mod:`detector.commands.make_demo_data` (``tools/make_demo_data.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.make_demo_data import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
