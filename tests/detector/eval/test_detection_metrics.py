"""AP by hand on small cases, and against the devkits' loop-by-loop logic on random data."""

import math
import random

import numpy as np
import pytest

from detector.data.records import DatasetError
from detector.eval import evaluate_detections, read_blacklist
from detector.eval.ap import ap_11_point, ap_all_point
from detector.eval.matching import greedy_match, ilsvrc_thresholds

from .conftest import det, make_voc_dataset
from .devkit_reference import reference_ap


def _ap(ds, dets, metric, **kw):
    return evaluate_detections(ds, dets, metric, **kw).report


def test_duplicates_and_difficult_by_hand():
    # two counted boxes and one difficult; dets: TP, duplicate (FP), on the difficult (ignored), TP
    ds = make_voc_dataset(
        {"a": [("cat", 1, 1, 100, 100, 0), ("cat", 201, 1, 300, 100, 0), ("cat", 1, 201, 100, 300, 1)]}, ["cat"]
    )
    dets = [
        det("a", "cat", 1, 1, 100, 100, 0.9),
        det("a", "cat", 3, 3, 100, 100, 0.8),
        det("a", "cat", 1, 201, 100, 300, 0.7),
        det("a", "cat", 201, 1, 300, 100, 0.6),
    ]
    # sequence TP, FP, TP: recall .5 .5 1, precision 1 .5 2/3
    assert _ap(ds, dets, "voc")["mAP"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    assert _ap(ds, dets, "voc07")["mAP"] == pytest.approx((6 * 1 + 5 * (2 / 3)) / 11)
    assert _ap(ds, dets, "ilsvrc")["mAP"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    rep = _ap(ds, dets, "voc")
    assert rep["num_gt"] == {"cat": 2} and rep["num_det"] == {"cat": 4}


def test_ties_follow_input_order():
    ds = make_voc_dataset({"a": [("cat", 11, 11, 60, 60, 0)]}, ["cat"])
    miss, hit = det("a", "cat", 200, 200, 250, 250, 0.5), det("a", "cat", 11, 11, 60, 60, 0.5)
    assert _ap(ds, [miss, hit], "voc")["mAP"] == pytest.approx(0.5)  # FP then TP
    assert _ap(ds, [hit, miss], "voc")["mAP"] == pytest.approx(1.0)  # TP then FP


def test_detection_on_image_without_ground_truth_is_false_positive():
    ds = make_voc_dataset({"a": [("cat", 11, 11, 60, 60, 0)], "empty": []}, ["cat"])
    dets = [det("empty", "cat", 11, 11, 60, 60, 0.9), det("a", "cat", 11, 11, 60, 60, 0.8)]
    for metric in ("voc", "ilsvrc"):
        assert _ap(ds, dets, metric)["mAP"] == pytest.approx(0.5)


def test_ilsvrc_threshold_for_small_boxes():
    # a 10x10 box (inclusive): threshold 100 / (20 * 20) = 0.25; the detection has IoU 0.3
    ds = make_voc_dataset({"a": [("ant", 1, 1, 10, 10, 0)]}, ["ant"])
    dets = [det("a", "ant", 1, 1, 10, 3, 0.9)]
    assert ilsvrc_thresholds(np.array([[0, 0, 10, 10.0]]))[0] == pytest.approx(0.25)
    assert _ap(ds, dets, "ilsvrc")["mAP"] == pytest.approx(1.0)
    assert _ap(ds, dets, "voc")["mAP"] == pytest.approx(0.0)
    assert ilsvrc_thresholds(np.array([[0, 0, 100, 100.0]]))[0] == 0.5


def test_ilsvrc_takes_best_unmatched_box_where_voc_counts_a_duplicate():
    ds = make_voc_dataset({"a": [("car", 1, 1, 100, 100, 0), ("car", 51, 1, 150, 100, 0)]}, ["car"])
    # second detection: IoU 0.667 with the (matched) first box, 0.538 with the second
    dets = [det("a", "car", 1, 1, 100, 100, 0.9), det("a", "car", 21, 1, 120, 100, 0.8)]
    assert _ap(ds, dets, "voc")["mAP"] == pytest.approx(0.5)
    assert _ap(ds, dets, "ilsvrc")["mAP"] == pytest.approx(1.0)


def test_iou_exactly_half_is_a_match():
    # inclusive widths 100 and 50 inside it: IoU = 50 * 100 / (100 * 100) = 0.5 exactly
    ds = make_voc_dataset({"a": [("cat", 1, 1, 100, 100, 0)]}, ["cat"])
    assert _ap(ds, [det("a", "cat", 1, 1, 50, 100, 0.9)], "voc")["mAP"] == pytest.approx(1.0)
    assert _ap(ds, [det("a", "cat", 1, 1, 49, 100, 0.9)], "voc")["mAP"] == pytest.approx(0.0)


def test_class_without_ground_truth_is_left_out():
    ds = make_voc_dataset({"a": [("cat", 1, 1, 100, 100, 0)]}, ["cat", "dog"])
    rep = _ap(ds, [det("a", "cat", 1, 1, 100, 100, 0.9), det("a", "dog", 1, 1, 100, 100, 0.9)], "voc")
    assert rep["per_class"] == {"cat": 1.0, "dog": None}
    assert rep["mAP"] == 1.0 and rep["classes_without_gt"] == 1


def test_no_detections_gives_zero():
    ds = make_voc_dataset({"a": [("cat", 1, 1, 100, 100, 0)]}, ["cat"])
    for metric in ("voc", "voc07", "ilsvrc", "coco"):
        assert _ap(ds, [], metric)["mAP"] == 0.0


def test_ap_functions_by_hand():
    rec, prec = np.array([0.25, 0.5, 0.5, 0.75]), np.array([1.0, 1.0, 2 / 3, 0.75])
    assert ap_all_point(rec, prec) == pytest.approx(0.5 * 1.0 + 0.25 * 0.75)
    # 11-point: t in {0..0.5} -> 1.0 (6 points), t in {0.6, 0.7} -> 0.75, t in {0.8..1} -> 0
    assert ap_11_point(rec, prec) == pytest.approx((6 * 1.0 + 2 * 0.75) / 11)


def _random_case(seed, n_img=40, classes=("a", "b", "c")):
    rng = random.Random(seed)
    gts, dets = {}, []
    for i in range(n_img):
        img = f"img{i:03d}"
        objs = []
        for _ in range(rng.randint(0, 5)):
            w, h = rng.choice([rng.randint(4, 20), rng.randint(30, 150)]), rng.randint(4, 150)
            x, y = rng.randint(1, 300), rng.randint(1, 200)
            objs.append((rng.choice(classes), x, y, x + w - 1, y + h - 1, int(rng.random() < 0.15)))
        gts[img] = objs
        for o in objs:  # jittered copies, some duplicates
            for _ in range(rng.choice([0, 1, 1, 2])):
                j = [rng.randint(-6, 6) for _ in range(4)]
                dets.append(
                    det(
                        img,
                        o[0],
                        o[1] + j[0],
                        o[2] + j[1],
                        max(o[3] + j[2], o[1] + j[0]),
                        max(o[4] + j[3], o[2] + j[1]),
                        round(rng.random(), 1),
                    )
                )
        for _ in range(rng.randint(0, 4)):  # background hits
            x, y = rng.randint(1, 400), rng.randint(1, 300)
            dets.append(
                det(
                    img,
                    rng.choice(classes),
                    x,
                    y,
                    x + rng.randint(5, 80),
                    y + rng.randint(5, 80),
                    round(rng.random(), 1),
                )
            )
    return make_voc_dataset(gts, list(classes)), gts, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("metric", "rule", "use_07"), [("voc", "voc", False), ("voc07", "voc", True), ("ilsvrc", "ilsvrc", False)]
)
def test_matches_devkit_logic_on_random_data(seed, metric, rule, use_07):
    ds, gts, dets = _random_case(seed)
    rep = _ap(ds, dets, metric)
    for cls in ds.class_names:
        gt_c = {img: [(o[1], o[2], o[3], o[4], o[5]) for o in objs if o[0] == cls] for img, objs in gts.items()}
        d_c = [
            (
                d["image_id"],
                d["score"],
                (d["bbox"][0], d["bbox"][1], d["bbox"][0] + d["bbox"][2] - 1, d["bbox"][1] + d["bbox"][3] - 1),
            )
            for d in dets
            if d["category_id"] == cls
        ]
        expected = reference_ap(gt_c, d_c, rule, use_07)
        got = rep["per_class"][cls]
        assert (got is None and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12), cls


def test_matching_handles_large_groups_across_chunks(monkeypatch):
    import detector.eval.matching as m

    monkeypatch.setattr(m, "PAD_BUDGET", 50)  # force many small padded blocks
    ds, gts, dets = _random_case(5)
    small = _ap(ds, dets, "voc")
    monkeypatch.setattr(m, "PAD_BUDGET", 4_000_000)
    assert small == _ap(ds, dets, "voc")


def test_greedy_match_returns_input_order():
    tp, fp = greedy_match(
        np.array([0, 0]),
        np.array([0.1, 0.9]),
        np.array([[0, 0, 10, 10], [0, 0, 10, 10.0]]),
        np.array([0]),
        np.array([[0, 0, 10, 10.0]]),
        np.array([False]),
        np.array([0.5]),
        "voc",
    )
    assert tp.tolist() == [False, True] and fp.tolist() == [True, False]


def test_blacklist(tmp_path):
    ds = make_voc_dataset({"a": [("cat", 1, 1, 100, 100, 0)], "b": [("cat", 1, 1, 100, 100, 0)]}, ["cat"])
    dets = [det("a", "cat", 1, 1, 100, 100, 0.9), det("b", "cat", 300, 300, 350, 350, 0.95)]
    assert _ap(ds, dets, "ilsvrc")["mAP"] == pytest.approx(0.25)  # FP first, then 1 of 2 found
    bl = tmp_path / "blacklist.txt"
    bl.write_text("2 cat\n")  # image index 2 (1-based) = "b"
    pairs = read_blacklist(bl, ds)
    assert pairs == {(1, 1)}
    rep = _ap(ds, dets, "ilsvrc", blacklist=pairs)
    assert rep["mAP"] == pytest.approx(1.0) and rep["num_gt"] == {"cat": 2} and rep["blacklisted_pairs"] == 1
    bl.write_text("b 1\n")
    assert read_blacklist(bl, ds) == {(1, 1)}
    bl.write_text("9 cat\n")
    with pytest.raises(DatasetError, match="line 1: unknown image or class"):
        read_blacklist(bl, ds)


def test_unknown_images_and_classes():
    ds = make_voc_dataset({"a": [("cat", 1, 1, 100, 100, 0)]}, ["cat"])
    bad = [det("a", "cat", 1, 1, 100, 100, 0.9), det("zzz", "cat", 1, 1, 9, 9, 0.8), det("a", "dog", 1, 1, 9, 9, 0.7)]
    with pytest.raises(DatasetError, match="1 detections name an unknown image .*'zzz'.*--lenient"):
        evaluate_detections(ds, bad, "voc")
    rep = evaluate_detections(ds, bad, "voc", lenient=True).report
    assert rep["mAP"] == 1.0
    assert rep["dropped"] == {
        "detections for an unknown image dropped": 1,
        "detections for an unknown class dropped": 1,
    }


@pytest.mark.parametrize("metric", ["voc", "voc07", "ilsvrc", "coco"])
def test_evaluate_arrays_scores_as_the_results_path(metric):
    """Detections held as arrays (float32 boxes, as a detector gives them) score exactly as the
    same detections written as results entries."""
    from detector.eval import evaluate_arrays
    from detector.eval.results import DetectionArrays, results_to_arrays

    ds, _, dets = _random_case(1)
    read = results_to_arrays(dets, ds)[0]
    arrays = DetectionArrays(read.image_idx, read.labels, read.scores.astype(np.float32), read.boxes.astype(np.float32))
    got, want = evaluate_arrays(ds, arrays, metric).report, _ap(ds, dets, metric)
    assert got == want and len(want["per_class"]) == 3 and want["mAP"] > 0
