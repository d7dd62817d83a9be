"""The members report (Tables 4/5): every member and ensemble scored as Detector would score it,
the greedy selection, the bootstrap gain; and the Detector's views, weights and fusions."""

import numpy as np
import pytest

from detector import Detector
from detector.api.members import collect_outputs, forward_selection, members_report, subset_detections
from detector.errors import UserError
from detector.eval import evaluate_detections
from detector.eval.bootstrap import paired_bootstrap
from detector.eval.results import arrays_to_results
from tests.detector.eval.conftest import make_voc_dataset
from tests.helpers import tiny_detector_checkpoint, write_photo

pytestmark = pytest.mark.numerics  # members' scores against Detector.evaluate: two code paths

RECTS = [(10, 10, 40, 35), (4, 20, 30, 44), (30, 6, 60, 30), (20, 12, 50, 40)]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    ds = make_voc_dataset({f"p{i}": [("b", x1 + 1, y1 + 1, x2, y2, 0)] for i, (x1, y1, x2, y2) in enumerate(RECTS)},
                          ["a", "b", "c"])  # fmt: skip
    for i, rec in enumerate(ds.records):
        rec.file = root / f"p{i}.png"
        write_photo(rec.file, 48, 64, RECTS[i])
        rec.width, rec.height = 64, 48
    ckpts = [tiny_detector_checkpoint(root / f"det{s}.pth", seed=s, classes=("a", "b", "c")) for s in (0, 1, 2)]
    return ds, ckpts, root


def test_forward_selection_by_hand():
    table = {(1, 0, 0): 0.5, (0, 1, 0): 0.6, (0, 0, 1): 0.4, (1, 1, 0): 0.65, (0, 2, 0): 0.6, (0, 1, 1): 0.7,
             (1, 1, 1): 0.69, (0, 2, 1): 0.71, (0, 1, 2): 0.66}  # fmt: skip
    counts, best, history = forward_selection(lambda c: table.get(c, 0.0), 3)
    # 0.6 (member 1), then 0.7 (+ member 2), then 0.71 (+ member 1 again), then nothing beats it
    assert counts == (0, 2, 1) and best == 0.71 and [m for m, _ in history] == [1, 2, 1]
    assert forward_selection(lambda c: 1.0, 2) == ((1, 0), 1.0, [(0, 1.0)])  # ties: the lower index, once


def test_members_report_scores_what_detector_scores(split, tmp_path):
    ds, ckpts, root = split
    det = Detector.load(ckpts, "cpu", score_thresh=0.0)
    report = members_report(det, ds, "voc", tmp_path / "props", bootstrap=30, progress=False)
    rows = report["rows"]
    assert [r["kind"] for r in rows] == ["member"] * 3 + ["ensemble"] * 2
    for m, c in enumerate(ckpts):  # each member's row is that checkpoint evaluated on its own
        ev, _ = Detector.load(c, "cpu", score_thresh=0.0).evaluate(ds, "voc", tmp_path / "props", progress=False)
        assert rows[m]["map"] == pytest.approx(ev.report["mAP"], abs=1e-9)
    ev, split_dets = det.evaluate(ds, "voc", tmp_path / "props", progress=False)
    assert rows[3]["map"] == pytest.approx(ev.report["mAP"], abs=1e-9)
    coco = evaluate_detections(ds, split_dets.results, "coco").report["mAP"]
    assert rows[3]["coco_ap"] == pytest.approx(coco, abs=1e-9)
    best = report["best_member"]
    assert rows[best]["map"] == max(r["map"] for r in rows[:3])
    gain = rows[3]["gain"]  # the same bootstrap as eval_det.py --compare's, member first
    out = collect_outputs(det, ds, tmp_path / "props", progress=False)
    onehot = [float(m == best) for m in range(3)]
    want = paired_bootstrap(
        ds, arrays_to_results(ds, subset_detections(det, out, onehot)), split_dets.results, "voc", 30
    )
    assert gain["diff"] == pytest.approx(want["diff"]) and gain["sd"] == pytest.approx(want["diff_sd"])
    assert gain["p_above_zero"] == pytest.approx(want["p_b_above_a"])
    assert sum(report["greedy"]["weights"]) >= 1 and len(report["agreement"]) == 3
    assert all(report["agreement"][m][m] in (0.0, 1.0) for m in range(3))
    with pytest.raises(UserError, match="at least two"):
        members_report(Detector.load(ckpts[0], "cpu"), ds, "voc", tmp_path / "props")


def test_detector_views_and_fusions(split, tmp_path):
    ds, ckpts, root = split
    flip = Detector.load(ckpts[0], "cpu", score_thresh=0.0, tta="hflip")
    plain = Detector.load(ckpts[0], "cpu", score_thresh=0.0)
    assert [v.name for v in flip.ensemble.views] == ["identity", "hflip"]
    a, b = flip(ds.records[0].file), plain(ds.records[0].file)
    assert len(a) and not np.array_equal(a.scores[:1], b.scores[:1])
    # a member with other proposals (selective search at width 32) is its own source
    small = tiny_detector_checkpoint(root / "small.pth", seed=5, classes=("a", "b", "c"), resize_width=32)
    for fusion in ("union", "wbf"):
        det = Detector.load([ckpts[0], small], "cpu", fusion=fusion, weights=[2, 1])
        assert len(det.sources) == 2 and det.ensemble.source_of == [0, 1]
        ev, found = det.evaluate(ds, "voc", tmp_path / fusion, progress=False)
        assert found.failed == [] and (tmp_path / fusion / "s1" / "boxes").is_dir()
        one = det(ds.records[0].file)  # on the fly, per source
        assert len(one) == sum(r["image_id"] == ds.records[0].image_id for r in found.results)
    assert len(Detector.load([ckpts[0], small], "cpu").sources) == 1  # average: the first's proposals
    with pytest.raises(UserError, match="fusion"):
        Detector.load(ckpts[0], "cpu", fusion="vote")
