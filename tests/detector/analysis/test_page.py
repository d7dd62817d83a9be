"""tools/analyze_det.py and eval_det --analyze: the page refers only to files that exist, and
analysis.json holds the numbers the page shows."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from detector.proposals.cache import ProposalCache
from tests.detector.data.builders import write_voc
from tests.helpers import run_tool

CLASSES = ("cat", "dog", "car")


class _Page(HTMLParser):
    """Every src/href of the page, the AP table's cells and the elements with data-value."""

    def __init__(self):
        super().__init__()
        self.links, self.rows, self.values = [], {}, {}
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith("#"):
                self.links.append(a[key])
        if tag == "tr" and "data-class" in a:
            self._row = a["data-class"]
            self.rows[self._row] = []
        if tag == "td" and self._row is not None:
            self.rows[self._row].append(a.get("data-value"))
        if a.get("id") == "map" or "share" in (a.get("class") or ""):
            self.values[a.get("data-type", "mAP")] = a.get("data-value")


@pytest.fixture(scope="module")
def voc_split(tmp_path_factory):
    """6 images with cats, dogs and cars; detections of every Hoiem type; a proposal cache."""
    root = tmp_path_factory.mktemp("analysis")
    rng = np.random.default_rng(0)
    images, dets = {}, []
    for i in range(6):
        objs = []
        for k in range(3):
            x, y = 10 + 100 * k, 20 + 10 * i
            cls = CLASSES[(i + k) % 3]
            objs.append((cls, x + 1, y + 1, x + 80, y + 60, int(i == 5 and k == 0)))
            if rng.random() < 0.7:  # found, with some jitter
                dets.append((f"im{i}", cls, x + rng.normal(0, 3), y, 80, 60, 0.5 + rng.random() / 2))
            if rng.random() < 0.3:  # confused with another class
                dets.append((f"im{i}", CLASSES[(i + k + 1) % 3], x, y, 80, 60, rng.random()))
        dets.append((f"im{i}", "car", 20, 200, 40, 40, rng.random()))  # background
        images[f"im{i}"] = (400, 300, objs)
    voc = write_voc(root / "voc", "test", images)
    results = [{"image_id": im, "category_id": c, "bbox": [x, y, w, h], "score": s} for im, c, x, y, w, h, s in dets]
    (root / "dets.json").write_text(json.dumps(results))
    cache = ProposalCache(root / "props")
    cache.write_meta({"method": "test"})
    for im, (_, _, objs) in images.items():
        boxes = np.array([[o[1] - 1, o[2] - 1, o[3], o[4]] for o in objs], np.float32) + rng.normal(0, 5, (3, 4))
        cache.put(im, boxes.astype(np.float32), source=f"{im}.jpg")
    return root, voc


@pytest.fixture(scope="module")
def analyzed(voc_split):
    """tools/analyze_det.py on the split, with the proposal cache: ``(page folder, its output)``."""
    root, voc = voc_split
    out = root / "page"
    res = run_tool(
        "analyze_det.py", "--gt", str(voc), "--split", "test", "--dets", str(root / "dets.json"), "--metric", "voc",
        "--out", str(out), "--proposals", str(root / "props"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out, res


def test_page_files_exist_and_json_matches_the_page(analyzed):
    out, res = analyzed
    assert f"analysis: {out / 'index.html'}" in res.stdout and "top detections: Cor" in res.stdout
    page = _Page()
    page.feed((out / "index.html").read_text())
    missing = [link for link in page.links if not (out / link).is_file()]
    assert not missing and len(page.links) > 10
    assert not [link for link in page.links if re.match(r"^(https?:)?//", link)]  # nothing from the network
    data = json.loads((out / "analysis.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert data["mAP"] == pytest.approx(report["mAP"]) and float(page.values["mAP"]) == pytest.approx(data["mAP"])
    for name, cells in page.rows.items():
        ap, shares = data["per_class"][name], data["fp_types"]["per_class"][name]["at_num_gt"]
        assert cells[0] == name and float(cells[1]) == pytest.approx(ap)
        assert [int(cells[2]), int(cells[3])] == [data["num_gt"][name], data["num_det"][name]]
        assert [float(c) for c in cells[4:]] == pytest.approx([shares[t] for t in ("Cor", "Loc", "Sim", "Oth", "BG")])
    assert sorted(page.rows) == sorted(CLASSES)
    overall = data["fp_types"]["overall"]["at_num_gt"]
    assert {t: float(page.values[t]) for t in overall} == pytest.approx(overall)
    assert sum(overall.values()) == pytest.approx(1.0)
    # the sections' data are there, with the shapes they should have
    m = np.array(data["confusion"]["matrix"])
    assert m.shape == (4, 4) and data["confusion"]["labels"] == ["background", *sorted(CLASSES)]
    assert set(data["coco_breakdown"]["overall"]) == {"C75", "C50", "Loc", "Sim", "Oth", "BG", "FN"}
    assert len(data["sensitivity"]["size"]["AP"]) == 5
    rec = data["proposal_recall"]["recall_vs_iou"]
    assert rec["recall"] == sorted(rec["recall"], reverse=True) and rec["recall"][0] == 1.0
    fps = data["galleries"]["car"]["false_positives"]
    assert fps and all(Path(out / e["file"]).is_file() and e["type"] in ("Loc", "Sim", "Oth", "BG") for e in fps)
    assert [e["score"] for e in fps] == sorted((e["score"] for e in fps), reverse=True)


def test_eval_det_analyze_writes_the_same_page(voc_split, analyzed, tmp_path):
    root, voc = voc_split
    res = run_tool(
        "eval_det.py", "--gt", str(voc), "--split", "test", "--dets", str(root / "dets.json"), "--metric", "voc",
        "--analyze", str(tmp_path / "a"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    a = json.loads((tmp_path / "a" / "analysis.json").read_text())
    b = json.loads((analyzed[0] / "analysis.json").read_text())
    assert "proposal_recall" not in a and "proposal_recall" in b  # no cache given here
    b.pop("proposal_recall")
    assert a == b
    res = run_tool("analyze_det.py", "--gt", str(voc), "--split", "test", "--dets", str(root / "dets.json"),
                   "--metric", "voc", "--out", str(tmp_path / "b"), "--groups", str(tmp_path / "none.txt"))  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip() == f"error: {tmp_path / 'none.txt'}: groups file not found"
