"""The coco metric equals pycocotools called directly."""

import contextlib
import io
import random

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detector.data import load_coco
from detector.eval import evaluate_detections
from detector.eval.coco_eval import STAT_NAMES
from tests.detector.data.builders import write_coco
from tests.helpers import SHARED_DATA


def _pycocotools(ann_file, dets):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _jittered(anns, seed):
    rng = random.Random(seed)
    dets = []
    for a in anns:
        for _ in range(rng.randint(0, 2)):
            x, y, w, h = a["bbox"]
            dets.append(
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "bbox": [
                        x + rng.uniform(-4, 4),
                        y + rng.uniform(-4, 4),
                        w * rng.uniform(0.8, 1.2),
                        h * rng.uniform(0.8, 1.2),
                    ],
                    "score": rng.random(),
                }
            )
    return dets


@pytest.fixture
def generated(tmp_path):
    rng = random.Random(0)
    images = [{"id": 100 + i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(30)]
    anns = []
    for im in images:
        for _ in range(rng.randint(0, 6)):
            w, h = rng.choice([rng.uniform(8, 30), rng.uniform(40, 90), rng.uniform(100, 300)]), rng.uniform(8, 200)
            anns.append(
                {
                    "image_id": im["id"],
                    "category_id": rng.choice([1, 7, 42]),
                    "bbox": [rng.uniform(0, 300), rng.uniform(0, 250), w, h],
                    "iscrowd": int(rng.random() < 0.05),
                }
            )
    path = write_coco(tmp_path / "instances_gen.json", images, anns, [(1, "person"), (7, "train"), (42, "surfboard")])
    return path, anns


def test_equals_pycocotools_on_generated_detections(generated):
    ann_file, anns = generated
    dets = _jittered(anns, 1)
    rep = evaluate_detections(load_coco(ann_file), dets, "coco").report
    ev = _pycocotools(ann_file, dets)
    assert list(rep["stats"]) == list(STAT_NAMES)
    assert [rep["stats"][k] for k in STAT_NAMES] == [float(v) for v in ev.stats]
    assert rep["mAP"] == rep["stats"]["AP"]
    for k, name in enumerate(["person", "train", "surfboard"]):
        p = ev.eval["precision"][:, :, k, 0, -1]
        assert rep["per_class"][name] == pytest.approx(float(np.mean(p[p > -1])))


def test_xml_style_dataset_through_coco_metric(generated):
    # the same ground truth evaluated via the in-memory conversion gives the same numbers
    ann_file, anns = generated
    ds = load_coco(ann_file)
    ds.ann_file = None  # force the conversion path
    dets = _jittered(anns, 2)
    rep = evaluate_detections(ds, dets, "coco").report
    ev = _pycocotools(ann_file, dets)
    assert [rep["stats"][k] for k in STAT_NAMES] == pytest.approx([float(v) for v in ev.stats], abs=1e-12)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")
def test_equals_pycocotools_on_coco_tiny():
    import json

    ann_file = SHARED_DATA / "coco_tiny" / "annotations" / "instances_val2017.json"
    anns = json.loads(ann_file.read_text())["annotations"]
    dets = _jittered(anns, 3)
    rep = evaluate_detections(load_coco(ann_file), dets, "coco").report
    assert [rep["stats"][k] for k in STAT_NAMES] == [float(v) for v in _pycocotools(ann_file, dets).stats]
