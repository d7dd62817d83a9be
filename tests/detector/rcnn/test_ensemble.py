"""Ensembles with test-time views, member weights, and fusion of members' own proposals."""

import pytest
import torch

from detector.errors import UserError
from detector.rcnn.ensemble import Ensemble, average_scores
from detector.rcnn.fusion import fuse_detections, union_proposals
from detector.rcnn.postprocess import PostprocessConfig, postprocess
from detector.rcnn.views import View
from detector.structures import Detections
from tests.detector.rcnn.test_predict import BOXES, IMAGE, _member

CFG = PostprocessConfig(score_thresh=0.0)


def _same(a: Detections, b: Detections) -> bool:
    return torch.equal(a.boxes, b.boxes) and torch.equal(a.scores, b.scores) and torch.equal(a.labels, b.labels)


def test_an_ensemble_of_a_model_with_itself_is_the_model():
    a = _member("rcnn", 0)
    for tta in ((), ("hflip", "rot90")):
        one, two = Ensemble([a], CFG, tta), Ensemble([a, a], CFG, tta)
        p1, d1 = one.score(IMAGE, BOXES)
        p2, d2 = two.score(IMAGE, BOXES)
        assert torch.equal(p1, p2) and torch.equal(d1, d2)
        assert _same(one.detect(IMAGE, BOXES), two.detect(IMAGE, BOXES))


@pytest.mark.parametrize("mode", ["rcnn", "fast"])
def test_flips_score_the_flipped_image_and_average_mapped_back(mode):
    a = _member(mode, 3)
    plain = Ensemble([a], CFG).score(IMAGE, BOXES)
    h, w = IMAGE.shape[1:]
    flipped = Ensemble([a], CFG).score(IMAGE.flip(-1), View("hflip").boxes(BOXES, h, w))
    p, d = Ensemble([a], CFG, ("hflip",)).score(IMAGE, BOXES)
    assert torch.equal(p, (plain[0] + flipped[0]) / 2)
    assert torch.equal(d, (plain[1] + View("hflip").deltas_back(flipped[1])) / 2)
    assert not torch.allclose(plain[0], flipped[0], atol=1e-4)  # the view is really another input


def test_member_weights():
    a, b = _member("rcnn", 0), _member("rcnn", 1)
    (pa, da), (pb, db) = Ensemble([a]).score(IMAGE, BOXES), Ensemble([b]).score(IMAGE, BOXES)
    p, d = Ensemble([a, b], weights=[3, 1]).score(IMAGE, BOXES)
    torch.testing.assert_close(p, (3 * pa + pb) / 4)
    torch.testing.assert_close(d, (3 * da + db) / 4)
    assert torch.equal(average_scores([(pa, None), (pb, db)], [3, 1])[1], db)  # the one member that has them
    for bad in ([1], [1, -1], [0, 0]):
        with pytest.raises(UserError, match="weights"):
            Ensemble([a, b], weights=bad)


def test_union_of_identical_proposals_is_the_shared_path():
    a, b = _member("rcnn", 0), _member("fast", 1)
    shared = Ensemble([a, b], CFG).detect(IMAGE, BOXES)
    union = Ensemble([a, b], CFG, fusion="union", source_of=[0, 1]).detect(IMAGE, [BOXES, BOXES.clone()])
    assert _same(shared, union)
    with pytest.raises(UserError, match="fusion"):
        Ensemble([a, b], CFG).detect(IMAGE, [BOXES, BOXES])


def test_union_proposals_keeps_first_occurrences_in_order():
    a = torch.tensor([[0.0, 0, 5, 5], [1, 1, 6, 6]])
    b = torch.tensor([[2.0, 2, 7, 7], [0, 0, 5, 5], [2, 2, 7, 7]])
    assert union_proposals([a, b]).tolist() == [[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 7, 7]]
    assert torch.equal(union_proposals([b[:2], b[:2]]), b[:2])
    assert union_proposals([torch.zeros(0, 4)]).shape == (0, 4)


def test_wbf_fuses_each_members_own_detections():
    a, b = _member("rcnn", 0), _member("rcnn", 1)
    other = BOXES + torch.tensor([1.0, 0.0, 1.0, 2.0])
    got = Ensemble([a, b], CFG, fusion="wbf", source_of=[0, 1]).detect(IMAGE, [BOXES, other])
    own = [postprocess(*Ensemble([m]).score(IMAGE, s), s, 48, 64, CFG) for m, s in ((a, BOXES), (b, other))]
    want = fuse_detections(own, 48, 64, "wbf", None, None, CFG.max_dets)
    assert _same(got, want) and len(got)


def test_wbf_by_hand():
    # member 1: a box of class 1 (0.9) and one of class 2 (0.8); member 2: an overlapping box of class 1 (0.6)
    d1 = Detections(torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 70]]), torch.tensor([0.9, 0.8]), torch.tensor([1, 2]))
    d2 = Detections(torch.tensor([[1.0, 1, 11, 11]]), torch.tensor([0.6]), torch.tensor([1]))
    got = fuse_detections([d1, d2], 100, 200, "wbf")
    # class 1: the score-weighted mean box, (0 * .9 + 1 * .6) / 1.5 = 0.4 ...; its score the mean, 0.75, times
    # min(2 members, 2 boxes) / 2; class 2: one box of two members' worth, 0.8 * 1 / 2
    torch.testing.assert_close(got.boxes, torch.tensor([[0.4, 0.4, 10.4, 10.4], [50, 50, 60, 70]]), rtol=0, atol=1e-4)
    torch.testing.assert_close(got.scores, torch.tensor([0.75, 0.4]))
    assert got.labels.tolist() == [1, 2]
    weighted = fuse_detections([d1, d2], 100, 200, "wbf", [3, 1])  # scores x weights: 2.7 and 0.6
    torch.testing.assert_close(weighted.boxes[0], torch.tensor([2.7 * 0 + 0.6, 0.6, 27 + 6.6, 27 + 6.6]) / 3.3)
    empty = Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert len(fuse_detections([empty, empty], 100, 200, "wbf")) == 0
    assert len(fuse_detections([d1, d2], 100, 200, "soft_nms")) == 3  # soft-NMS lowers, keeps
    with pytest.raises(UserError, match="fusion"):
        fuse_detections([d1, d2], 100, 200, "mean")
