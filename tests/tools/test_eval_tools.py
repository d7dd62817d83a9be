"""tools/eval_det.py and tools/eval_cls.py end to end, including user errors."""

import json

import numpy as np
import pytest
import torch

from tests.detector.data.builders import write_coco, write_voc
from tests.helpers import SHARED_DATA, run_tool


def _eval_voc(root, dets, *extra):
    """tools/eval_det.py on ``root``'s ``test`` split, VOC metric, the results file ``dets``."""
    return run_tool("eval_det.py", "--gt", str(root), "--split", "test", "--dets", str(dets), "--metric", "voc", *extra)


def test_eval_det_voc_report_and_plots(tmp_path):
    root = write_voc(
        tmp_path / "voc",
        "test",
        {"a": (100, 100, [("cat", 1, 1, 50, 50, 0)]), "b": (100, 100, [("dog", 11, 11, 60, 60, 0)])},
        with_images=False,
    )
    dets = [
        {"image_id": "a", "category_id": "cat", "bbox": [1, 1, 50, 50], "score": 0.9},
        {"image_id": "b", "category_id": "dog", "bbox": [61, 61, 20, 20], "score": 0.8},
    ]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    res = _eval_voc(root, tmp_path / "d.json", "--out", str(tmp_path / "rep.json"), "--plots", str(tmp_path / "plots"))
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["metric"] == "voc" and rep["mAP"] == 0.5 and rep["per_class"] == {"cat": 1.0, "dog": 0.0}
    assert "mAP (voc): 0.5000" in res.stdout
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["pr_cat.png", "pr_dog.png"]


def test_eval_det_compare_two_results_files(tmp_path):
    gts = {k: (100, 100, [("cat", 1, 1, 50, 50, 0)]) for k in ("a", "b", "c")}
    root = write_voc(tmp_path / "voc", "test", gts, with_images=False)
    hit = {"category_id": "cat", "bbox": [1, 1, 50, 50], "score": 0.9}
    (tmp_path / "all.json").write_text(json.dumps([dict(hit, image_id=k) for k in gts]))
    (tmp_path / "one.json").write_text(json.dumps([dict(hit, image_id="a")]))
    one = str(tmp_path / "one.json")
    res = _eval_voc(
        root, tmp_path / "all.json", "--compare", one, "--bootstrap", "40", "--out", str(tmp_path / "r.json")
    )
    assert res.returncode == 0, res.stderr
    cmp = json.loads((tmp_path / "r.json").read_text())["compare"]
    # one.json finds 1 of 3 cats: AP 1/3 on the split, and never above all.json on a draw
    assert cmp["a"] == 1.0 and cmp["b"] == pytest.approx(1 / 3) and cmp["diff"] == pytest.approx(-2 / 3)
    assert cmp["n"] == 40 and cmp["p_b_above_a"] == 0.0 and cmp["b_source"].endswith("one.json")
    assert "all.json 1.0000, one.json 0.3333, difference -0.6667" in res.stdout and "paired bootstrap (40" in res.stdout
    bad = _eval_voc(root, tmp_path / "all.json", "--compare", one, "--bootstrap", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --bootstrap must be at least 1, got 0"
    missing = _eval_voc(root, tmp_path / "all.json", "--compare", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and "none.json: file not found" in missing.stderr


def test_eval_det_coco_and_errors(tmp_path):
    ann = write_coco(
        tmp_path / "gt.json",
        [{"id": 1, "file_name": "x.jpg", "width": 50, "height": 50}],
        [{"image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20]}],
        [(3, "car")],
    )
    d = tmp_path / "d.json"
    d.write_text(json.dumps([{"image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 1.0}]))
    res = run_tool(
        "eval_det.py", "--gt", str(ann), "--dets", str(d), "--metric", "coco", "--out", str(tmp_path / "r.json")
    )
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["mAP"] == pytest.approx(1.0) and set(rep["stats"]) >= {"AP", "AP50", "ARl"}
    d.write_text(json.dumps([{"image_id": 2, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 1.0}]))
    bad = run_tool("eval_det.py", "--gt", str(ann), "--dets", str(d), "--metric", "voc")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "unknown image" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    ok = run_tool("eval_det.py", "--gt", str(ann), "--dets", str(d), "--metric", "voc", "--lenient")
    assert ok.returncode == 0 and "1 detections for an unknown image dropped" in ok.stdout
    missing = run_tool("eval_det.py", "--gt", str(tmp_path / "none.json"), "--dets", str(d), "--metric", "voc")
    assert missing.returncode == 2 and "none.json: file not found" in missing.stderr


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")
def test_eval_det_on_bccd_with_perfect_detections(tmp_path):
    from detector.data import load_voc
    from detector.eval import DetectionArrays, arrays_to_results

    ds = load_voc(SHARED_DATA / "bccd", "test")
    res = []
    for i, r in enumerate(ds.records):
        res += arrays_to_results(
            ds, DetectionArrays(np.full(len(r.labels), i), r.labels, np.linspace(1, 0.5, len(r.labels)), r.boxes)
        )
    (tmp_path / "d.json").write_text(json.dumps(res))
    for metric in ("voc07", "ilsvrc"):
        out = run_tool(
            "eval_det.py",
            "--gt",
            str(SHARED_DATA / "bccd"),
            "--split",
            "test",
            "--dets",
            str(tmp_path / "d.json"),
            "--metric",
            metric,
        )
        assert out.returncode == 0 and f"mAP ({metric}): 1.0000" in out.stdout


def test_eval_cls(tmp_path):
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    torch.save(scores, tmp_path / "s.pt")
    np.save(tmp_path / "l.npy", np.array([1, 1, 1]))
    res = run_tool(
        "eval_cls.py",
        "--scores",
        str(tmp_path / "s.pt"),
        "--labels",
        str(tmp_path / "l.npy"),
        "--json",
        str(tmp_path / "o.json"),
    )
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["top1_error"] == pytest.approx(1 / 3) and out["top5_error"] == 0.0 and out["images"] == 3
    np.save(tmp_path / "bad.npy", np.array([5, 0, 0]))
    bad = run_tool("eval_cls.py", "--scores", str(tmp_path / "s.pt"), "--labels", str(tmp_path / "bad.npy"))
    assert bad.returncode == 2 and "labels must be integers in [0, 1]" in bad.stderr
