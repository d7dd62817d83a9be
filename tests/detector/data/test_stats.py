"""The dataset report on hand-made datasets: every count and percentile against numbers worked
out by hand, the VOC flags, the COCO crowd count, and the files it writes."""

import json

import numpy as np
import pytest

from detector.data import inspect as data_inspect
from detector.data import load_dataset
from detector.data.inspect import describe_splits
from detector.data.stats import dataset_report, format_report, percentiles, split_report

from .builders import write_coco, write_flagged_voc, write_image


@pytest.fixture
def hand_voc(tmp_path):
    return write_flagged_voc(tmp_path / "voc")


def test_counts_and_percentiles_of_a_hand_made_split(hand_voc):
    s = split_report(load_dataset(hand_voc, "train"))
    assert (s["images"], s["objects"], s["images_without_objects"]) == (4, 4, 1)
    assert s["objects_per_image"] == {"p0": 0, "p5": 0.15, "p10": 0.3, "p25": 0.75, "p50": 1.0, "p75": 1.25,
                                      "p90": 1.7, "p95": 1.85, "p100": 2, "mean": 1.0}  # [0, 1, 1, 2]  # fmt: skip
    # sizes [10, 10, 40, 100]: linear interpolation between ranks (numpy's default)
    size = s["size_px"]
    assert (size["p0"], size["p25"], size["p50"], size["p75"], size["p90"], size["p95"], size["p100"]) == (
        10, 10, 25, 55, 82, 91, 100)  # fmt: skip
    assert size["mean"] == 40
    assert s["relative_size"]["p50"] == pytest.approx((0.1414 + 0.2828) / 2, abs=1e-4)  # 10/sqrt(5000), 40/sqrt(20000)
    assert (s["aspect"]["p50"], s["aspect"]["p100"], s["aspect"]["mean"]) == (1.0, 4.0, 1.75)
    assert s["classes"]["cat"]["objects"] == 2 and s["classes"]["cat"]["images"] == 2
    assert s["classes"]["cat"]["size_px"]["p50"] == 25 and s["classes"]["dog"]["size_px"]["p50"] == 55
    assert (s["image_width"]["p50"], s["image_width"]["p100"], s["image_short_side"]["p0"]) == (100, 200, 50)
    assert (s["difficult"], s["truncated"], s["crowd"]) == (1, 1, 0)
    assert s["problems"] == {"zero-area or inverted box dropped": 1}


def test_percentiles_match_numpy_and_handle_empty():
    v = np.random.default_rng(0).gamma(2.0, 30.0, 999)
    p = percentiles(v, 6)
    assert p["p50"] == pytest.approx(np.median(v), abs=1e-6) and p["p95"] == pytest.approx(
        np.quantile(v, 0.95), abs=1e-6
    )
    assert percentiles(np.zeros(0)) is None


def test_coco_split_counts_crowds_and_has_no_truncated_flag(tmp_path):
    for i in (1, 2):
        write_image(tmp_path / "images" / f"{i}.jpg", 80, 60)
    ann = write_coco(tmp_path / "ann.json",
                     [{"id": i, "file_name": f"{i}.jpg", "width": 80, "height": 60} for i in (1, 2)],
                     [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 20, 20]},
                      {"image_id": 1, "category_id": 3, "bbox": [10, 10, 40, 10], "iscrowd": 1}], [(3, "ball")])  # fmt: skip
    rep = dataset_report({"train": load_dataset(ann, images=tmp_path / "images")})
    s = rep["splits"]["train"]
    assert rep["kind"] == "coco" and rep["classes"] == ["ball"]
    assert (s["objects"], s["crowd"], s["truncated"], s["images_without_objects"]) == (2, 1, None, 1)
    assert s["size_px"]["p0"] == 20 and s["size_px"]["p100"] == pytest.approx(20.0)  # sqrt(40 * 10)
    assert "truncated" not in format_report(rep)


def test_describe_splits_writes_the_report_and_pictures(hand_voc, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data_inspect, "_PRINTED", set())  # another test may have printed this report
    ds = load_dataset(hand_voc, "train")
    rep = describe_splits({"train": ds}, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "dataset.json").read_text()) == json.loads(json.dumps(rep))
    png = (tmp_path / "out" / "labels_train.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    out = capsys.readouterr().out
    assert "train: 4 images, 4 objects (1.0 an image, at most 2; 1 images without any)" in out
    assert "cat 2 (2 images), dog 2 (2 images)" in out and "1 zero-area or inverted box dropped" in out
    describe_splits({"train": ds}, None)  # the same split again in this process: one line
    assert capsys.readouterr().out.strip() == "dataset: as reported above"
