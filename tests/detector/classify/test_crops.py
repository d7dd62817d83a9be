"""The paper's 1/10/144 test crops: geometry, content and mirrors."""

import pytest
import torch

from detector.classify.crops import crop_boxes, crops


def test_counts_and_distinct_boxes():
    assert crop_boxes(300, 400, 1, 224, 256).shape == (1, 4)
    assert crop_boxes(300, 400, 10, 224, 256).shape == (5, 4)
    boxes = crop_boxes(300, 400, 144, 224, 256)
    assert boxes.shape == (72, 4)
    # 60 distinct corner/center boxes; the 12 whole squares cover 3 regions (one per square)
    assert len({tuple(b) for b in boxes.view(12, 6, 4)[:, :5].reshape(-1, 4).tolist()}) == 60
    assert len({tuple(b) for b in boxes[5::6].tolist()}) == 3
    img = torch.rand(3, 300, 400)
    out = crops(img, 144, 224, 256)
    assert out.shape == (144, 3, 224, 224)
    assert torch.equal(out[72:], out[:72].flip(-1))
    flat = out.flatten(1)
    assert (torch.cdist(flat, flat) + torch.eye(144) * 1e9).min() > 1e-3  # 144 distinct crops
    assert crops(img, 10, 224, 256).shape == (10, 3, 224, 224)
    with pytest.raises(ValueError):
        crop_boxes(300, 400, 7, 224, 256)


def test_144_geometry_landscape():
    h, w = 300, 400
    boxes = crop_boxes(h, w, 144, 224, 256).view(4, 3, 6, 4)  # scale, square, crop
    for si, scale in enumerate((256, 288, 320, 352)):
        c = 224 * h / scale  # a 224 crop at that scale, in original pixels
        for qi, x0 in enumerate((0.0, 50.0, 100.0)):  # left / center / right squares
            sq = boxes[si, qi]
            torch.testing.assert_close(sq[5], torch.tensor([x0, 0.0, x0 + 300, 300.0]))  # whole square
            torch.testing.assert_close(sq[0], torch.tensor([x0, 0.0, x0 + c, c]))  # top-left corner
            torch.testing.assert_close(sq[3], torch.tensor([x0 + 300 - c, 300 - c, x0 + 300, 300.0]))
            torch.testing.assert_close(
                sq[4], torch.tensor([x0 + (300 - c) / 2, (300 - c) / 2, x0 + (300 + c) / 2, (300 + c) / 2])
            )


def test_portrait_squares_are_top_center_bottom():
    boxes = crop_boxes(400, 300, 144, 224, 256).view(4, 3, 6, 4)
    assert [b[5].tolist() for b in boxes[0]] == [[0, 0, 300, 300], [0, 50, 300, 350], [0, 100, 300, 400]]


def test_crop_content_equals_direct_crop():
    img = torch.arange(3 * 100 * 120, dtype=torch.float32).view(3, 100, 120)
    # resize == shorter side: the 64 center crop maps pixel to pixel, so it is an exact slice
    out = crops(img, 1, 64, 100)
    torch.testing.assert_close(out[0], img[:, 18:82, 28:92])
    ten = crops(img, 10, 64, 100)
    torch.testing.assert_close(ten[0], img[:, 0:64, 0:64])  # top-left corner
    torch.testing.assert_close(ten[3], img[:, 36:100, 56:120])  # bottom-right corner
    torch.testing.assert_close(ten[5], img[:, 0:64, 0:64].flip(-1))
    # a downscaled crop (whole square to 50 px) averages each output pixel's 2x2 footprint
    sq = crops(torch.ones(3, 100, 100) * 5, 144, 50, 100)
    torch.testing.assert_close(sq, torch.full_like(sq, 5.0))
