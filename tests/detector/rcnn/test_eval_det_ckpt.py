"""tools/eval_det.py --ckpt on the demo split: results file, report, ensembles, and the
same mAP as the training run's own evaluation and as scoring the written results."""

import json

import pytest

from detector.checkpoint import load_checkpoint
from detector.demo_data import DemoDataConfig, make_demo_data
from detector.demo_data.writer import PRESETS
from tests.helpers import run_tool

from .conftest import CONFIG, FAST, train_det


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_data(root / "data", DemoDataConfig(**{**PRESETS["tiny"], "workers": 1}))
    out = root / "det"
    res = train_det(root / "data" / "det", out, "optim.epochs=1", "optim.batch_size=2", "sampling.regions_per_batch=64")
    assert res.returncode == 0, res.stderr[-2000:]
    return root, out


def test_eval_det_ckpt_matches_training_and_results_file(demo_run, tmp_path):
    root, out = demo_run
    # the tiny val split lacks some classes: name them all, as for a real ILSVRC split
    common = ["--data", str(root / "data" / "det"), "--split", "val", "--metric", "voc",
              "--class-map", str(root / "data" / "classes.txt")]  # fmt: skip
    res = run_tool(
        "eval_det.py", "--ckpt", str(out / "final.pth"), *common, "--proposals", str(out / "proposals"),
        "--out", str(tmp_path / "report.json"), "--plots", str(tmp_path / "pr"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    trained_map = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]["mAP"]
    assert report["mAP"] == pytest.approx(trained_map, abs=1e-9)
    dets = json.loads((tmp_path / "detections.json").read_text())
    assert len(dets) == report["num_detections"] > 0
    assert {"image_id", "category_id", "bbox", "score"} <= dets[0].keys()
    again = run_tool(
        "eval_det.py", "--dets", str(tmp_path / "detections.json"), *common, "--out", str(tmp_path / "r2.json")
    )
    assert again.returncode == 0 and json.loads((tmp_path / "r2.json").read_text())["mAP"] == report["mAP"]
    # an ensemble of a model with itself averages identical outputs: the same detections
    ens = run_tool(
        "eval_det.py", "--ckpt", str(out / "final.pth"), "--ckpt", str(out / "final.pth"), *common,
        "--proposals", str(out / "proposals"), "--out", str(tmp_path / "ens" / "r.json"),
        "--members", "--select-split", "train", "--bootstrap", "20",
    )  # fmt: skip
    assert ens.returncode == 0 and "from 2 model(s)" in ens.stdout, ens.stderr[-2000:]
    ens_report = json.loads((tmp_path / "ens" / "r.json").read_text())
    assert ens_report["mAP"] == pytest.approx(report["mAP"], abs=1e-6)
    # --members: both members and the ensemble score the model's mAP; no gain in any resampling
    rows = ens_report["members"]["rows"]
    assert [r["map"] for r in rows] == pytest.approx([report["mAP"]] * 4, abs=1e-6)
    assert rows[2]["gain"]["diff"] == pytest.approx(0.0, abs=1e-9) and rows[2]["gain"]["p_above_zero"] == 0.0
    assert ens_report["members"]["greedy"]["weights"] == [1.0, 0.0]  # the first, and the copy adds nothing
    assert "gain over best member" in ens.stdout and ens_report["members"]["greedy"]["chosen_on"].endswith("train")


def test_eval_det_ckpt_computes_missing_proposals_and_rejects_bad_use(demo_run, tmp_path):
    root, out = demo_run
    common = ["--data", str(root / "data" / "det"), "--split", "val", "--metric", "voc"]
    res = run_tool("eval_det.py", "--ckpt", str(out / "final.pth"), *common, "--out", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list((tmp_path / "proposals" / "boxes").glob("*.npz"))) == 4
    bad = run_tool("eval_det.py", "--ckpt", str(out / "final.pth"), "--dets", "x.json", *common)
    assert bad.returncode == 2 and "not both" in bad.stderr


@pytest.mark.slow
def test_train_and_evaluate_on_coco_json(demo_run, tmp_path):
    root, _ = demo_run
    ann = root / "data" / "det" / "annotations"
    res = run_tool(
        "train_det.py", "--config", CONFIG, "--data", str(ann / "instances_train.json"),
        "--val-split", str(ann / "instances_val.json"), "--out", str(tmp_path / "det"),
        "--opts", *FAST, "optim.epochs=1", "optim.batch_size=2", "sampling.regions_per_batch=64", "eval_metric=coco",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    ckpt = load_checkpoint(tmp_path / "det" / "final.pth")
    assert ckpt["dataset_kind"] == "coco" and len(ckpt["class_names"]) == 10
    # the two files number their images 1, 2, ... each: val's proposals get their own cache
    assert "validation image ids repeat training ids" in res.stdout
    n_val = len(json.loads((ann / "instances_val.json").read_text())["images"])
    assert len(list((tmp_path / "det" / "proposals_val" / "boxes").glob("*.npz"))) == n_val

    def eval_det(proposals):
        return run_tool(
            "eval_det.py", "--ckpt", str(tmp_path / "det" / "final.pth"), "--data", str(ann / "instances_val.json"),
            "--metric", "coco", "--proposals", str(tmp_path / "det" / proposals), "--out", str(tmp_path / "r.json"),
        )  # fmt: skip

    wrong = eval_det("proposals")  # the training images' cache
    assert wrong.returncode == 2 and "two datasets with colliding image ids" in wrong.stderr
    out = eval_det("proposals_val")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    trained = [json.loads(x) for x in (tmp_path / "det" / "metrics.jsonl").read_text().splitlines()][-1]["mAP"]
    assert report["mAP"] == pytest.approx(trained, abs=1e-9) and len(report["stats"]) == 12
    dets = json.loads((tmp_path / "detections.json").read_text())
    assert {d["category_id"] for d in dets} <= set(range(1, 11)) and all(isinstance(d["image_id"], int) for d in dets)
