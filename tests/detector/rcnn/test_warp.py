import pytest
import torch
import torch.nn.functional as F

from detector.rcnn.warp import context_boxes, warp_regions


def test_context_box_puts_the_region_in_the_inner_square():
    b = torch.tensor([[40.0, 30.0, 100.0, 70.0]])
    out = context_boxes(b, 227, 16)
    # the box's width maps to 227 - 32 output pixels: 16 output pixels of context on each side
    scale_x = 227 / (out[0, 2] - out[0, 0])
    assert torch.isclose((b[0, 0] - out[0, 0]) * scale_x, torch.tensor(16.0))
    assert torch.isclose((b[0, 2] - b[0, 0]) * scale_x, torch.tensor(195.0))
    assert torch.allclose(context_boxes(b, 64, 0), b)
    with pytest.raises(ValueError):
        context_boxes(b, 64, 32)


@pytest.mark.parametrize("antialias", [False, True])
def test_warp_equals_direct_crop_and_resize(antialias):
    g = torch.Generator().manual_seed(0)
    smooth = F.interpolate(torch.rand(1, 3, 12, 16, generator=g), size=(120, 160), mode="bicubic", align_corners=False)
    boxes = torch.tensor([[36.0, 26.0, 84.0, 74.0], [70.0, 39.0, 130.0, 81.0], [18.0, 28.0, 42.0, 52.0]])
    size, ctx = 32, 4
    crops = warp_regions(smooth, torch.cat([torch.zeros(3, 1), boxes], 1), size, ctx, antialias)
    assert crops.shape == (3, 3, size, size)
    ctx_boxes = context_boxes(boxes, size, ctx)
    assert torch.equal(ctx_boxes, ctx_boxes.round())  # whole pixels, inside the image
    for k, b in enumerate(ctx_boxes.int().tolist()):
        direct = F.interpolate(
            smooth[:, :, b[1] : b[3], b[0] : b[2]], size=(size, size), mode="bilinear", antialias=antialias,
            align_corners=False,
        )[0]  # fmt: skip
        if antialias:  # area-style averaging vs antialiased bilinear: close, not equal
            assert (crops[k] - direct).abs().mean() < 0.01, k
        else:  # the same bilinear samples at the same points (R-CNN's warp)
            torch.testing.assert_close(crops[k], direct, atol=1e-5, rtol=1e-5)
    shifted = warp_regions(smooth, torch.tensor([[0.0, 40.0, 26.0, 88.0, 74.0]]), size, ctx, antialias)
    assert (shifted[0] - crops[0]).abs().mean() > 0.01  # a box 4 px off is told apart


def test_outside_the_image_is_mean_and_batch_index_selects_the_image():
    images = torch.stack([torch.full((3, 50, 50), 1.0), torch.full((3, 50, 50), 2.0)])
    rois = torch.tensor([[1.0, 0.0, 0.0, 50.0, 50.0], [0.0, 0.0, 0.0, 50.0, 50.0]])
    crops = warp_regions(images, rois, 24, 6)  # 12 px of context around a 50 px box -> 12.5 px outside
    assert torch.allclose(crops[0, :, 12, 12], torch.tensor(2.0)) and torch.allclose(
        crops[1, :, 12, 12], torch.tensor(1.0)
    )
    assert (crops[:, :, :4, :] == 0).all() and (crops[:, :, :, -4:] == 0).all()
