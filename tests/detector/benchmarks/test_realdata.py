"""tools/benchmark.py realdata on a 6-image subset: a smoke test of the whole comparison (every
system trains, detects and is scored); its numbers mean nothing, and the table says so."""

import json
import os

import pytest
import yaml

from detector.benchmarks.realdata import threads_per_job
from detector.data import load_dataset
from detector.eval import evaluate_detections, read_results
from tests.detector.benchmarks.test_peers import classifier_checkpoint
from tests.detector.rcnn.conftest import write_trivial_voc
from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.smoke_subset


def _small_config(path):
    """configs/voc_custom.yaml at the 96 px images' own size (its defaults are for 640x480 photos)."""
    cfg = yaml.safe_load((ROOT / "configs" / "voc_custom.yaml").read_text())
    cfg["head"].update(image_size=96, max_image_size=96, train_sizes=[])
    cfg["proposals"]["selective_search"]["resize_width"] = None
    cfg["proposals"]["workers"] = 1
    cfg["log_every"] = 1
    path.write_text(yaml.safe_dump(cfg))
    return path


ROWS = {  # row -> (its folder, how it starts)
    "ours-fast (demo cls)": ("ours-fast_demo_cls", "demo classifier"),
    "ours-fast (scratch)": ("ours-fast_scratch", "scratch"),
    "fasterrcnn_googlenet (demo cls)": ("fasterrcnn_googlenet_demo_cls", "demo classifier"),
    "fasterrcnn_googlenet (scratch)": ("fasterrcnn_googlenet_scratch", "scratch"),
}


@pytest.mark.slow
def test_realdata_on_a_6_image_subset(tmp_path):
    """Ours and the fair peer (torchvision's Faster R-CNN on our GoogLeNet trunk), each from the
    same classifier and from scratch."""
    root = write_trivial_voc(tmp_path / "voc", n_train=10, n_val=8)
    out = tmp_path / "bench"
    cls, _ = classifier_checkpoint(tmp_path / "cls.pth")
    res = run_tool("benchmark.py", "realdata", "--data", str(root), "--train-split", "train", "--test-split", "val",
                   "--config", str(_small_config(tmp_path / "small.yaml")),
                   "--minutes", "0.05", "--subset", "6", "--systems", "ours-fast", "fasterrcnn_googlenet",
                   "--demo-cls", str(cls), "--out", str(out), "--json", str(out / "r.json"), "--jobs", "2")  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "SUBSET of 6 images per split: a smoke test, not a measurement" in res.stdout
    rep = json.loads((out / "r.json").read_text())
    assert rep["jobs"] == 2 and f"2 system(s) at a time with {rep['threads']} thread(s) each" in res.stdout
    assert [r["name"] for r in rep["results"]] == list(ROWS)
    assert [r["init"] for r in rep["results"]] == [str(cls.resolve()), None] * 2  # the same start for each pair
    assert rep["test_images"] == 6
    subset = load_dataset(out / "subset", "val")
    assert [r.image_id for r in subset.records] == [f"val_{i:03d}" for i in range(6)]
    for r in rep["results"]:
        folder, starts = ROWS[r["name"]]
        assert "error" not in r, r
        # the peers train to the 3 s budget; ours runs whole epochs, nearest the budget (at least one)
        assert r["train_seconds"] >= (3.0 if folder.startswith("fasterrcnn") else 0.01)
        assert r["infer_seconds_per_image"] > 0 and r["peak_rss_mb"] > 100
        dets = read_results(out / folder / "results.json")
        assert {d["image_id"] for d in dets} <= {rec.image_id for rec in subset.records}
        for metric in ("voc", "ilsvrc", "coco"):  # the table's numbers are those of the results file
            want = evaluate_detections(subset, dets, metric).report["mAP"]
            assert r[metric] == pytest.approx(want, nan_ok=True)
        assert f"{r['name']} | {starts} | {r['voc']:.4f} | " in res.stdout
    assert rep["results"][1]["epochs"] >= 1 and rep["results"][3]["steps"] >= 1
    kinds = [json.loads(x)["kind"] for x in (out / "ours-fast_scratch" / "metrics.jsonl").read_text().splitlines()]
    assert "train" in kinds and "val" not in kinds  # eval_every=0: no validation, not even at the end
    used = yaml.safe_load((out / "ours-fast_scratch" / "config.yaml").read_text())
    assert used["head"]["mode"] == "fast" and used["sampling"]["bg_iou_low"] == 0.1  # Fast R-CNN's negatives


def test_threads_per_job_shares_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert [threads_per_job(j) for j in (1, 2, 3, 32)] == [16, 8, 5, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the caller's choice wins
    assert threads_per_job(2) == 3


def test_realdata_without_a_dataset_is_one_line(tmp_path):
    res = run_tool("benchmark.py", "realdata", "--data", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "nowhere: not a VOC-format dataset" in res.stderr and "Traceback" not in res.stderr
