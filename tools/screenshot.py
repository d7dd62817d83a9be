#!/usr/bin/env python
"""Screenshot a page (e.g. the error analysis) in headless Chromium, from disk, no server.

The command is ``googlenet-det screenshot`` once installed; its code and full usage are in
:mod:`detector.commands.screenshot` (``tools/screenshot.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.screenshot import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
