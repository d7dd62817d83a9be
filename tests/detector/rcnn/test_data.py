"""``fast``'s image frame: prepare_image's sizes and the training set's scale jitter (train_sizes)."""

import cv2
import numpy as np
import pytest
import torch

from detector.data.records import ImageRecord
from detector.rcnn.data import DetDataConfig, RegionTrainDataset, prepare_image
from detector.rcnn.model import HeadConfig
from detector.rcnn.sampling import SamplingConfig


@pytest.mark.parametrize(
    ("size", "max_size", "expect_hw", "expect_scale"),
    [
        (None, 960, (720, 960), 1.5),  # image_size 720: the shorter side 480 -> 720
        (576, 960, (576, 768), 1.2),  # a drawn size: 480 -> 576
        (576, 900, (540, 720), 1.125),  # the longer side's limit scales too: 900 * 576 / 720 = 720
        (960, 2000, (960, 1280), 2.0),
    ],
)
def test_prepare_image_sizes(size, max_size, expect_hw, expect_scale):
    cfg = HeadConfig(mode="fast", image_size=720, max_image_size=max_size)
    out, scale = prepare_image(torch.randn(3, 480, 640), cfg, size)
    assert tuple(out.shape[-2:]) == expect_hw and scale == pytest.approx(expect_scale)


def test_rcnn_frame_is_the_original_image():
    image = torch.randn(3, 50, 70)
    out, scale = prepare_image(image, HeadConfig(mode="rcnn"), 300)
    assert out is image and scale == 1.0


class _Cache:
    def __init__(self, boxes):
        self.boxes = boxes

    def boxes_for(self, record):
        return self.boxes


def _train_set(tmp_path, sizes, **augment):
    img = np.full((60, 80, 3), 128, np.uint8)
    cv2.rectangle(img, (10, 12), (40, 42), (0, 0, 255), -1)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    gt = np.array([[10, 12, 41, 43]], np.float32)
    rec = ImageRecord("a", tmp_path / "a.png", 80, 60, gt, np.array([1]), np.zeros(1, bool), np.zeros(1, bool))
    props = np.array([[11, 12, 40, 44], [0, 0, 30, 30], [40, 10, 79, 59]], np.float32)
    head = HeadConfig(mode="fast", image_size=120, max_image_size=400, train_sizes=sizes)
    data = DetDataConfig(**({"hflip": 0.0, "photometric": 0.0} | augment))
    return RegionTrainDataset([rec], _Cache(props), head, SamplingConfig(), data, 8, max_proposals=100, seed=3)


def test_train_sizes_draw_each_items_size_reproducibly_and_scale_its_boxes(tmp_path):
    data = _train_set(tmp_path, (60, 90, 120, 150))
    seen = {}
    for epoch in range(12):
        data.set_epoch(epoch)
        image, regions, _ = data[0]
        short = image.shape[-2]
        assert short in (60, 90, 120, 150) and image.shape[-1] == round(80 * short / 60)
        # the ground truth is always among the regions (a positive), in the drawn frame
        scale = short / 60
        gt = torch.tensor([10, 12, 41, 43], dtype=torch.float32) * scale
        assert (regions.boxes - gt).abs().amax(1).min() < 1e-3
        again, regions2, _ = data[0]
        assert torch.equal(again, image) and torch.equal(regions2.boxes, regions.boxes)
        seen[epoch] = short
    assert len(set(seen.values())) >= 3  # the size changes with the epoch


def test_without_train_sizes_every_epoch_uses_image_size(tmp_path):
    data = _train_set(tmp_path, ())
    for epoch in range(3):
        data.set_epoch(epoch)
        assert data[0][0].shape[-2:] == (120, 160)


def test_train_sizes_must_be_positive():
    from backbones import GoogLeNet
    from detector.rcnn.model import RegionDetector

    with pytest.raises(ValueError, match="train_sizes"):
        RegionDetector(GoogLeNet(num_classes=3, variant="bn"), 2, HeadConfig(mode="fast", train_sizes=(600, 0)))


def test_vflip_and_rotate90_move_the_boxes_with_the_pixels(tmp_path):
    """With every flip and rotation on, the positive region must cover the red square wherever it
    went, found independently from the returned image's pixels; a rotation by 90 or 270 degrees
    swaps the frame (80x60 -> 120x160 at image_size 120)."""
    data = _train_set(tmp_path, (), hflip=0.5, vflip=0.5, rotate90=1.0)
    shapes, quadrants = set(), set()
    for epoch in range(16):
        data.set_epoch(epoch)
        image, regions, _ = data[0]
        red = (image[0] - image[1]) > 1.0  # normalized: red far above green only inside the square
        ys, xs = torch.nonzero(red, as_tuple=True)
        found = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
        positives = regions.boxes[regions.labels == 1]
        assert (positives - found).abs().amax(1).min() <= 2.5, (epoch, found, positives)
        shapes.add(tuple(image.shape[-2:]))
        cx, cy = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
        quadrants.add((bool(cx < image.shape[-1] / 2), bool(cy < image.shape[-2] / 2)))
    assert shapes == {(120, 160), (160, 120)}  # both orientations were drawn
    assert len(quadrants) >= 3  # the square's centre visited several quadrants


def test_no_vflip_or_rotation_by_default(tmp_path):
    data = _train_set(tmp_path, ())
    ops = [type(t).__name__ for t in data.transform.transforms]
    assert ops == ["HorizontalFlip", "ColorJitter"]


@pytest.mark.parametrize("bad", [{"vflip": -0.1}, {"rotate90": 1.5}, {"hflip": 2.0}])
def test_augment_probabilities_outside_0_1_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=f"data.{next(iter(bad))} must be a probability"):
        _train_set(tmp_path, (), **bad)
