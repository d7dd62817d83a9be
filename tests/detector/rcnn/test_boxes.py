import math

import torch

from detector.rcnn.boxes import BOX_WEIGHTS, decode_boxes, encode_boxes


def test_encode_matches_rcnn_formulas():
    p = torch.tensor([[10.0, 20.0, 50.0, 100.0]])  # center (30, 60), size 40 x 80
    g = torch.tensor([[14.0, 16.0, 74.0, 96.0]])  # center (44, 56), size 60 x 80
    t = encode_boxes(p, g, (1.0, 1.0, 1.0, 1.0))
    expected = [(44 - 30) / 40, (56 - 60) / 80, math.log(60 / 40), math.log(80 / 80)]
    assert torch.allclose(t[0], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(encode_boxes(p, g)[0], torch.tensor(expected) * torch.tensor(BOX_WEIGHTS), atol=1e-5)


def test_round_trip_random_boxes():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(500, 2, generator=g) * 400
    p = torch.cat([xy, xy + 20 + torch.rand(500, 2, generator=g) * 180], 1)
    xy = torch.rand(500, 2, generator=g) * 400
    gt = torch.cat([xy, xy + 20 + torch.rand(500, 2, generator=g) * 180], 1)
    assert torch.allclose(decode_boxes(p, encode_boxes(p, gt)), gt, atol=1e-3)


def test_decode_per_class_shape_and_zero_deltas_identity():
    p = torch.tensor([[0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 6.0, 9.0]])
    out = decode_boxes(p, torch.zeros(2, 7, 4))
    assert out.shape == (2, 7, 4)
    assert torch.allclose(out, p[:, None, :].expand(2, 7, 4))


def test_decode_clamps_huge_scale():
    p = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    out = decode_boxes(p, torch.tensor([[0.0, 0.0, 1e4, 1e4]]))
    assert torch.isfinite(out).all() and (out[0, 2] - out[0, 0]) <= 10 * 1000 / 16 + 1e-3
