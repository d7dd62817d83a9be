"""Test-time views: boxes and regressions map back to the original frame exactly."""

import pytest
import torch

from detector.errors import UserError
from detector.rcnn.boxes import decode_boxes
from detector.rcnn.views import View, parse_views

H, W = 30, 50
BOXES = torch.tensor([[0.0, 0.0, 10.0, 20.0], [12.5, 3.0, 49.0, 29.5], [20.0, 10.0, 21.0, 30.0]])
DELTAS = torch.tensor([[0.3, -0.7, 0.2, -0.4], [-1.1, 0.5, -0.3, 0.6], [0.0, 0.9, 0.8, 0.1]])


@pytest.mark.parametrize("name", ["identity", "hflip", "vflip", "rot90"])
def test_boxes_round_trip_and_deltas_decode_alike(name):
    v = View(name)
    view_boxes = v.boxes(BOXES, H, W)
    assert torch.equal(v.boxes_back(view_boxes, H, W), BOXES)
    # a box the view's regression decodes to, mapped back, is what the mapped-back regression decodes to
    in_view = decode_boxes(view_boxes, DELTAS)
    back = decode_boxes(BOXES, v.deltas_back(DELTAS))
    torch.testing.assert_close(v.boxes_back(in_view, H, W), back, rtol=0, atol=1e-5)
    # class-specific regressions [N, K+1, 4] map alike, per class
    per_class = torch.stack([DELTAS, -DELTAS], 1)
    assert torch.equal(v.deltas_back(per_class)[:, 1], v.deltas_back(-DELTAS))


def test_views_move_pixels_as_they_move_boxes():
    image = torch.zeros(3, H, W)
    image[:, 4:7, 10:12] = 1.0  # the box (10, 4, 12, 7)
    box = torch.tensor([[10.0, 4.0, 12.0, 7.0]])
    for name, shape in (("hflip", (H, W)), ("vflip", (H, W)), ("rot90", (W, H))):
        v = View(name)
        moved = v.image(image)
        assert moved.shape[1:] == shape
        x1, y1, x2, y2 = v.boxes(box, H, W)[0].int().tolist()
        lit = moved[0].nonzero()
        assert (lit[:, 0].min(), lit[:, 0].max() + 1, lit[:, 1].min(), lit[:, 1].max() + 1) == (y1, y2, x1, x2), name


def test_rot90_regressions_by_hand():
    # the view's x offset is the original's y offset; the view's y offset the original's -x; w and h swap
    assert View("rot90").deltas_back(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-2.0, 1.0, 4.0, 3.0]
    assert View("hflip").deltas_back(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-1.0, 2.0, 3.0, 4.0]


def test_parse_views():
    assert [v.name for v in parse_views("hflip,vflip")] == ["identity", "hflip", "vflip"]
    assert [v.name for v in parse_views(("rot90",))] == ["identity", "rot90"]
    assert [v.name for v in parse_views(None)] == ["identity"]
    with pytest.raises(UserError, match="not available"):
        parse_views("hflip,mirror")
    with pytest.raises(UserError, match="twice"):
        parse_views(["hflip", "hflip"])
