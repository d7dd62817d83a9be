#!/usr/bin/env python
"""Export a classifier or a detector to ONNX, and check the files with onnxruntime.

The command is ``googlenet-det export-onnx`` once installed; its code and full usage are in
:mod:`detector.commands.export_onnx` (``tools/export_onnx.py --help`` prints it).
"""

from detector.cli import run_tool
from detector.commands.export_onnx import main

if __name__ == "__main__":
    raise SystemExit(run_tool(main))
