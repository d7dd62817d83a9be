"""Helpers the tests import: paths and running the command-line tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def run_tool(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``tools/<script>`` with this interpreter; capture text output."""
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
    )
