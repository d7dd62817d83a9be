"""Opening the analysis page in headless Chromium (Debian's ``chromium``): a screenshot, the
console messages and the DOM after its script ran. Used by the browser test and
``tools/screenshot.py``; nothing here needs a display or a network."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120


@dataclass
class Rendered:
    screenshot: Path
    console: list[str]  # console messages and load failures Chromium logged
    dom: str  # the DOM once the page's script ran
    broken: list[str]  # images that did not load (the analysis page lists them in <body data-broken>)


def find_browser() -> str | None:
    """The path of a headless-capable Chromium, or None."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def _run(browser: str, args: list[str], profile: str) -> subprocess.CompletedProcess:
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--allow-file-access-from-files",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]  # fmt: skip
    try:
        return subprocess.run(base + args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"{browser}: no answer within {TIMEOUT_S} s") from None


def render(page: str | Path, screenshot: str | Path, width: int = 1280, height: int = 2400) -> Rendered:
    """Load ``page`` from disk, save a ``width`` x ``height`` screenshot, and collect what the
    console said (errors, uncaught exceptions, files that failed to load)."""
    browser = find_browser()
    if browser is None:
        raise UserError("no Chromium found (apt-get install chromium; `make browser-test` does it)")
    page, screenshot = Path(page).resolve(), Path(screenshot).resolve()
    if not page.is_file():
        raise UserError(f"{page}: page not found")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    url = page.as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        shot = _run(
            browser,
            [f"--screenshot={screenshot}", f"--window-size={width},{height}", "--hide-scrollbars", url],
            profile,
        )
        dom = _run(browser, ["--dump-dom", url], profile)
    console = [
        line
        for line in (shot.stderr + dom.stderr).splitlines()
        if re.search(r"CONSOLE|Uncaught|Failed to load|ERR_FILE_NOT_FOUND|net::ERR", line)
    ]
    if not screenshot.is_file():
        raise UserError(f"{browser} wrote no screenshot of {page}: {shot.stderr.strip().splitlines()[-1:]}")
    found = re.search(r'<body[^>]*\sdata-broken="([^"]*)"', dom.stdout)
    return Rendered(screenshot, console, dom.stdout, found.group(1).split() if found else [])
