#!/usr/bin/env python
"""The end-to-end demo on the embedded data: generate it, pre-train the classifier, train MultiBox

The command is ``googlenet-det demo`` once installed (``make demo`` runs it); its code and full usage
are in :mod:`detector.commands.demo` (``tools/demo.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.demo import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
