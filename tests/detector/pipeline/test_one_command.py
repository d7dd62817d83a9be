"""tools/train_det.py without naming the splits: train, val and test as the dataset lists them,
--auto's choices printed and saved, rcnn trained in RUN/rcnn, the test split scored once."""

import json

import pytest
import yaml

from tests.detector.rcnn.conftest import CONFIG, FAST, write_trivial_voc
from tests.helpers import run_tool


@pytest.mark.slow
def test_one_command_trains_and_tests(tmp_path):
    root = write_trivial_voc(tmp_path / "voc", n_train=8, n_val=4)
    (root / "ImageSets" / "Main" / "test.txt").write_text((root / "ImageSets" / "Main" / "val.txt").read_text())
    run = tmp_path / "run"
    res = run_tool("train_det.py", "--config", CONFIG, "--data", str(root), "--out", str(run), "--auto",
                   "--opts", *FAST, "optim.epochs=1")  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    out = res.stdout
    assert out.index("train: 8 images") < out.index("auto: ") < out.index("stages: rcnn, test")  # report first
    assert "auto: optim.epochs = 60  (~1600 image passes over 8 training images, in (2, 60))  [--opts sets it]" in out
    used = yaml.safe_load((run / "config.yaml").read_text())
    auto = {c["key"]: c["value"] for c in json.loads((run / "auto.json").read_text())["detector"]}
    assert used["optim"]["epochs"] == 1 and used["pipeline"]["auto"]  # --opts won; the rest is auto's
    width = auto["proposals.selective_search.resize_width"]  # FAST's --opts sets it to null: theirs wins
    assert used["proposals"]["selective_search"]["resize_width"] is None and width == 192
    assert (
        f"auto: proposals.selective_search.resize_width = {width}  (" in out
        and "at width 192)  [--opts sets it]" in out
    )
    assert used["proposals"]["selective_search"]["k_scale"] == auto["proposals.selective_search.k_scale"] == 1.0
    for f in ("dataset.json", "labels_train.png", "rcnn/final.pth", "rcnn/dataset.json", "test/detections.json",
              "test/analysis/index.html"):  # fmt: skip
        assert (run / f).is_file(), f
    report = json.loads((run / "test" / "report.json").read_text())
    assert f"done: test voc mAP {report['mAP']:.4f} ({run}/test/report.json); weights in {run}/rcnn/final.pth" in out
    again = run_tool("train_det.py", "--config", CONFIG, "--data", str(root), "--out", str(run), "--auto", "--resume",
                     "--opts", *FAST, "optim.epochs=1")  # fmt: skip
    assert again.returncode == 0 and "stage rcnn: done" in again.stdout and "stage test: done" in again.stdout
    assert f"done: test voc mAP {report['mAP']:.4f}" in again.stdout
