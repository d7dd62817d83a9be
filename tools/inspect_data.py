#!/usr/bin/env python
"""What a detection dataset holds (counts, sizes, problems, a labels picture), and the settings --auto would choose.

The command is ``googlenet-det inspect-data`` once installed; its code and full usage are in
:mod:`detector.commands.inspect_data` (``tools/inspect_data.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.inspect_data import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
