"""The analysis page in a real browser: headless Chromium opens it from disk, its script runs,
nothing fails to load, no console error, and the screenshot is not blank. Skips without
Chromium (`make browser-test` installs it and runs this)."""

import json

import numpy as np
import pytest
from PIL import Image

from detector.analysis.browser import find_browser, render
from tests.detector.analysis.test_page import voc_split  # noqa: F401 (a fixture)
from tests.helpers import run_tool

pytestmark = pytest.mark.skipif(find_browser() is None, reason="no Chromium (make browser-test installs it)")


def test_chromium_opens_the_page_without_errors(voc_split, tmp_path):  # noqa: F811
    root, voc = voc_split
    out = tmp_path / "page"
    res = run_tool("analyze_det.py", "--gt", str(voc), "--split", "test", "--dets", str(root / "dets.json"),
                   "--metric", "voc", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    r = render(out / "index.html", tmp_path / "shot.png", 1000, 1600)
    assert r.console == [] and r.broken == []
    assert 'data-ready="1"' in r.dom  # the page's script ran to its end, after every image loaded
    data = json.loads((out / "analysis.json").read_text())
    assert f"{data['mAP']:.3f}" in r.dom and r.dom.count('<tr data-class="') == 3
    pixels = np.asarray(Image.open(r.screenshot).convert("L"), np.float64)
    assert pixels.shape == (1600, 1000) and pixels.std() > 20 and (pixels < 128).mean() > 0.01  # text and plots drawn
    # the check can fail: a plot removed, and a script error, are both reported
    (out / "plots" / "sensitivity.png").unlink()
    page = out / "index.html"
    page.write_text(page.read_text().replace("</body>", "<script>undefinedFunction();</script></body>"))
    r = render(page, tmp_path / "broken.png", 600, 400)
    assert r.broken == ["plots/sensitivity.png"]
    assert any("undefinedFunction" in line for line in r.console)
