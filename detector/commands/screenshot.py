"""Screenshot a page (e.g. the error analysis) in headless Chromium, from disk, no server.

    tools/screenshot.py outputs/demo/det_eval/analysis/index.html docs/analysis_demo.png [--width 1280] [--height 2400]

Prints the console messages Chromium logged and the images that did not load (the analysis page
reports those itself); exits 1 if there were any.
Needs Debian's chromium (`make browser-test` installs it).
"""

from __future__ import annotations

import argparse

from detector.analysis.browser import render


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("out", help="the PNG to write")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    r = render(args.page, args.out, args.width, args.height)
    for line in r.console:
        print(f"console: {line}")
    for src in r.broken:
        print(f"not loaded: {src}")
    print(f"screenshot: {r.screenshot}")
    return 1 if r.console or r.broken else 0
