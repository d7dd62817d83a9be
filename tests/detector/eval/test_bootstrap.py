"""detector.eval.paired_bootstrap against a by-hand computation of the same resamplings."""

import json

import numpy as np
import pytest

from detector.data import load_coco
from detector.eval import evaluate_detections, paired_bootstrap
from tests.detector.data.builders import write_coco
from tests.detector.eval.conftest import det, make_voc_dataset

IMAGES = ["i0", "i1", "i2", "i3"]


def _four_images():
    """One cat per image; A finds all four, B only those of i0 and i1."""
    data = make_voc_dataset({i: [("cat", 11, 11, 60, 60, 0)] for i in IMAGES}, ["cat"])
    a = [det(i, "cat", 11, 11, 60, 60, 0.9) for i in IMAGES]
    b = [det(i, "cat", 11, 11, 60, 60, 0.9) for i in IMAGES[:2]]
    return data, a, b


def test_difference_matches_the_resamplings_by_hand():
    data, a, b = _four_images()
    r = paired_bootstrap(data, a, b, "voc", n=200, seed=3)
    # By hand: A's AP is 1 on any draw; B's precision is 1 and its recall is the share of drawn
    # images that are i0 or i1, so its VOC AP equals that share (a repeat counts each time).
    rng = np.random.default_rng(3)
    diffs = np.array([np.mean(rng.integers(0, 4, 4) < 2) - 1.0 for _ in range(200)])
    assert (r["a"], r["b"], r["diff"]) == (1.0, 0.5, -0.5)
    assert r["n"] == 200 and r["images"] == 4
    assert r["diff_median"] == pytest.approx(np.median(diffs))
    assert r["diff_ci95"] == pytest.approx(np.percentile(diffs, [2.5, 97.5]).tolist())
    assert r["diff_sd"] == pytest.approx(diffs.std()) and r["diff_sd"] > 0.1
    assert r["sd_a"] == 0.0 and r["sd_b"] == pytest.approx(diffs.std())
    assert r["p_b_above_a"] == 0.0


def test_same_results_differ_by_nothing_and_swapping_flips_the_sign():
    data, a, b = _four_images()
    same = paired_bootstrap(data, a, a, "voc", n=50)
    assert same["diff"] == 0.0 and same["diff_sd"] == 0.0 and same["diff_ci95"] == [0.0, 0.0]
    ab, ba = paired_bootstrap(data, a, b, "voc", n=50), paired_bootstrap(data, b, a, "voc", n=50)
    assert ba["diff_median"] == -ab["diff_median"] and ba["diff_ci95"] == [-x for x in ab["diff_ci95"][::-1]]
    # A is above B on every draw holding i2 or i3; a draw of only i0 and i1 ties them
    rng = np.random.default_rng(0)
    assert ba["p_b_above_a"] == np.mean([(rng.integers(0, 4, 4) >= 2).any() for _ in range(50)]) < 1.0


def test_coco_file_dataset_resamples_its_records(tmp_path):
    """A COCO dataset is scored from its own file on the whole split and from the resampled
    records on each draw; both must agree where the draw is the split itself."""
    images = [{"id": k, "file_name": f"{k}.jpg", "width": 80, "height": 80} for k in (1, 2)]
    anns = [{"image_id": k, "category_id": 5, "bbox": [10, 10, 30, 30]} for k in (1, 2)]
    ann = write_coco(tmp_path / "gt.json", images, anns, [(5, "car")])
    data = load_coco(ann)
    a = [{"image_id": k, "category_id": 5, "bbox": [10, 10, 30, 30], "score": 0.9} for k in (1, 2)]
    b = [{"image_id": 1, "category_id": 5, "bbox": [10, 10, 30, 30], "score": 0.9}]
    r = paired_bootstrap(data, a, b, "coco", n=30)
    whole_b = evaluate_detections(data, b, "coco").report["mAP"]
    assert r["a"] == pytest.approx(1.0) and r["b"] == pytest.approx(whole_b)
    assert r["n"] == 30 and -1.0 <= r["diff_ci95"][0] <= r["diff_ci95"][1] <= 0.0
    json.dumps(r)  # the report is plain JSON


def test_bad_arguments():
    data, a, b = _four_images()
    with pytest.raises(ValueError, match="at least 1"):
        paired_bootstrap(data, a, b, "voc", n=0)


@pytest.mark.parametrize("metric", ["voc", "ilsvrc"])
def test_draws_equal_scoring_renamed_resampled_results(metric):
    """Each draw gathers detections by image index; scoring the draw's images written out as a
    dataset and results files of their own (repeats renamed apart) gives the same numbers."""
    import dataclasses

    from .test_detection_metrics import _random_case

    data, _, a = _random_case(0)
    b = [dict(d, score=round(1 - d["score"], 1)) for d in a]  # the same boxes, ranked otherwise
    blacklist = {(1, 2), (3, 1)} if metric == "ilsvrc" else None
    r = paired_bootstrap(data, a, b, metric, n=40, seed=7, blacklist=blacklist)
    rng, diffs = np.random.default_rng(7), []
    for _ in range(40):
        idx = rng.integers(0, len(data.records), len(data.records))
        recs, res_a, res_b, bl = [], [], [], set()
        for k, i in enumerate(idx.tolist()):
            rec = data.records[i]
            recs.append(dataclasses.replace(rec, image_id=f"draw{k}"))
            res_a += [dict(d, image_id=f"draw{k}") for d in a if d["image_id"] == rec.image_id]
            res_b += [dict(d, image_id=f"draw{k}") for d in b if d["image_id"] == rec.image_id]
            bl |= {(k, lab) for j, lab in blacklist or () if j == i}
        sub = dataclasses.replace(data, records=recs)
        diffs.append(
            evaluate_detections(sub, res_b, metric, bl or None).report["mAP"]
            - evaluate_detections(sub, res_a, metric, bl or None).report["mAP"]
        )
    assert r["n"] == 40 and r["diff_sd"] == pytest.approx(np.std(diffs), abs=1e-12) and r["diff_sd"] > 0.01
    assert r["diff_ci95"] == pytest.approx(np.percentile(diffs, [2.5, 97.5]).tolist(), abs=1e-12)
