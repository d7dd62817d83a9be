"""tools/inspect_data.py: the report files, the settings --auto would choose, one-line errors."""

import json

from tests.detector.data.builders import write_flagged_voc
from tests.helpers import ROOT, run_tool


def test_report_and_settings(tmp_path):
    root = write_flagged_voc(tmp_path / "voc")
    out = tmp_path / "out"
    res = run_tool("inspect_data.py", "--data", str(root), "--out", str(out),
                   "--config", str(ROOT / "configs" / "voc_custom.yaml"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    rep = json.loads((out / "dataset.json").read_text())
    assert list(rep["splits"]) == ["train"] and rep["splits"]["train"]["objects"] == 4  # the lists there
    assert (out / "labels_train.png").stat().st_size > 5000
    auto = json.loads((out / "auto.json").read_text())
    keys = [c["key"] for c in auto["detector"]]
    assert keys[:2] == ["proposals.selective_search.resize_width", "proposals.selective_search.k_scale"]
    assert {"head.image_size", "optim.epochs"} <= set(keys) and auto["multibox"]  # the config trains MultiBox
    widths = [c for c in auto["detector"] if c["key"] == "proposals.selective_search.resize_width"][0]
    assert f"auto: proposals.selective_search.resize_width = {widths['value']}  ({widths['reason']})" in res.stdout
    # cat and dog have fewer than 5 objects each: the objects' 10th percentile (10 px) is served,
    # 100 x 20 / 10 = 200 px wide, held to the 192 px of these 100-200 px images
    assert widths["value"] == 192
    assert widths["reason"] == "the objects' 10th percentile 10 px in 100 px wide images spans ~20 px at width 192"


def test_missing_dataset_is_one_line(tmp_path):
    res = run_tool("inspect_data.py", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "nowhere: no --split given" in res.stderr and "Traceback" not in res.stderr


def test_train_det_one_line_errors_before_any_work(tmp_path):
    root = write_flagged_voc(tmp_path / "voc")
    (root / "ImageSets" / "Main" / "empty.txt").write_text("c\n")  # an image without objects
    cfg = str(ROOT / "configs" / "voc_custom.yaml")
    res = run_tool("train_det.py", "--config", cfg, "--data", str(root), "--train-split", "empty", "--auto",
                   "--out", str(tmp_path / "run"))  # fmt: skip
    assert res.returncode == 2 and "--auto: the training split has no objects" in res.stderr
    res = run_tool("train_det.py", "--config", cfg, "--data", str(root), "--proposals", str(tmp_path / "p"),
                   "--out", str(tmp_path / "run2"))  # fmt: skip
    assert res.returncode == 2 and "--proposals: a run with stages keeps its proposals in" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "run2" / "multibox").exists()
