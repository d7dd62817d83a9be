import pytest
import torch

from backbones import googlenet
from detector.rcnn.model import HeadConfig, RegionDetector, fold_for_inference
from detector.rcnn.warp import warp_regions
from tests.helpers import assert_same_function, randomize_bn

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains


def _detector(mode: str, variant: str = "bn", **kw) -> RegionDetector:
    torch.manual_seed(0)
    head = HeadConfig(mode=mode, input_size=64, context=4, image_size=128, roi_size=4, region_chunk=3, **kw)
    return RegionDetector(randomize_bn(googlenet(variant, aux_logits=False)), 5, head)


def test_forward_from_continues_the_trunk():
    net = randomize_bn(googlenet("bn", aux_logits=False)).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        f = net.forward_features(x, ("inception_4e", "inception_5b"))
        assert torch.equal(net.forward_from(f["inception_4e"], "inception_4e"), f["inception_5b"])  # the same layers
    with pytest.raises(KeyError):
        net.forward_from(f["inception_4e"], "inception_5b", "inception_4e")


@pytest.mark.parametrize("mode", ["rcnn", "fast"])
@pytest.mark.parametrize("variant", ["bn", "paper"])
def test_shapes_and_gradients(mode, variant):
    det = _detector(mode, variant).train()
    images = torch.randn(2, 3, 96, 128)
    rois = torch.tensor([[0, 0, 0, 40, 50], [1, 10, 20, 90, 80], [1, 0, 0, 128, 96]], dtype=torch.float32)
    logits, deltas = det(images, rois)
    assert logits.shape == (3, 6) and deltas.shape == (3, 6, 4)
    (logits.sum() + deltas.sum()).backward()
    assert det.backbone.conv1.conv.weight.grad.abs().sum() > 0


def test_rcnn_region_feature_is_the_whole_network_on_the_warped_crop():
    det = _detector("rcnn").eval()
    image = torch.randn(1, 3, 96, 128)
    rois = torch.tensor([[0, 10, 20, 90, 80]], dtype=torch.float32)
    crop = warp_regions(image, rois, 64, 4)
    with torch.no_grad():
        direct = det.backbone.forward_head(det.backbone.forward_features(crop)["inception_5b"])
        assert torch.equal(det.region_features(image, rois), direct)  # the same layers on the same crop


@pytest.mark.parametrize("mode", ["rcnn", "fast"])
def test_predict_chunks_and_folding_agree(mode):
    det = _detector(mode).eval()
    image = torch.randn(3, 96, 128)
    boxes = torch.tensor([[0, 0, 40, 50], [10, 20, 90, 80], [0, 0, 128, 96], [30, 30, 60, 70], [5, 5, 20, 20.0]])
    probs, deltas = det.predict(image, boxes)  # chunks of 3
    assert probs.shape == (5, 6) and deltas.shape == (5, 6, 4)
    assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)
    with torch.no_grad():
        logits, d = det(image[None], torch.cat([torch.zeros(5, 1), boxes], 1))
    # chunks of 3 regions against all 5 at once: batched convolutions may sum in another order
    assert_same_function(probs, logits.softmax(1), layers=22, what="probabilities")
    assert_same_function(deltas, d, layers=22, what="deltas")
    fp, fd = fold_for_inference(det).predict(image, boxes)
    assert_same_function(fp, probs, layers=22, what="folded probabilities")
    assert_same_function(fd, deltas, layers=22, what="folded deltas")


def test_no_regression_and_frozen_bn():
    det = _detector("fast", box_regression=False, frozen_bn=True).train()
    bn = det.backbone.conv1.bn
    before = bn.running_mean.clone()
    logits, deltas = det(torch.randn(1, 3, 96, 96), torch.tensor([[0, 0, 0, 60, 60.0]]))
    assert deltas is None and det.bbox_pred is None
    assert not bn.training and torch.equal(bn.running_mean, before) and not bn.weight.requires_grad
    assert det.predict(torch.randn(3, 64, 64), torch.tensor([[0, 0, 30, 30.0]]))[1] is None


def test_fast_roi_tap_must_exist():
    with pytest.raises(ValueError, match="roi_tap"):
        _detector("fast", roi_tap="inception_9z")


def test_fast_on_the_last_map_runs_only_the_heads_per_region():
    det = _detector("fast", roi_tap="inception_5b").eval()
    image = torch.randn(1, 3, 128, 128)
    rois = torch.tensor([[0, 0, 0, 128, 128.0]])
    with torch.no_grad():
        fmap = det.backbone.forward_features(image)["inception_5b"]  # [1, 1024, 4, 4]
        feats = det.region_features(image, rois)
    assert det.stride == 32 and feats.shape == (1, 1024)
    # the whole-image region pooled to 2x2 then averaged is the global average of the map
    assert torch.allclose(feats[0], fmap.mean((2, 3))[0], atol=1e-4)


def test_fast_from_inception_3b_runs_inception_4a_to_5b_per_region():
    """roi_tap inception_3b (stride 8): each region is RoIAligned from the 3b map (480 channels)
    and continues through pool3, inception_4a-4e, pool4 and 5a/5b: checked against that chain
    written out with torchvision's roi_align, and trained through to conv1."""
    from torchvision.ops import roi_align

    det = _detector("fast", roi_tap="inception_3b").eval()  # roi_size 4
    image = torch.randn(1, 3, 96, 128)
    rois = torch.tensor([[0, 8.0, 16.0, 72.0, 80.0], [0, 30.0, 2.0, 126.0, 94.0]])
    net = det.backbone
    with torch.no_grad():
        fmap = net.forward_features(image, ("inception_3b",))["inception_3b"]
        assert det.stride == 8 and fmap.shape == (1, 480, 12, 16)
        x = net.maxpool3(roi_align(fmap, rois, (4, 4), 1 / 8, sampling_ratio=2, aligned=True))
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(net, f"inception{name}")(x)
        x = net.inception5b(net.inception5a(net.maxpool4(x)))
        assert torch.equal(det.region_features(image, rois), net.forward_head(x))  # the same ops, by hand
    logits, _ = det.train()(image, rois)
    logits.sum().backward()
    assert net.conv1.conv.weight.grad.abs().sum() > 0


def test_fast_roi_dilation_pools_the_box_grown_about_its_center():
    """roi_dilation=1.5 gives exactly the features of the box with half-sides 1.5x as long."""
    image = torch.randn(1, 3, 128, 160)
    box = torch.tensor([[0, 40.0, 30.0, 100.0, 90.0]])  # center (70, 60), half-sides 30
    grown = torch.tensor([[0, 25.0, 15.0, 115.0, 105.0]])
    wide, plain = _detector("fast", roi_dilation=1.5).eval(), _detector("fast").eval()
    with torch.no_grad():
        # the same sampling points, reached through box coordinates rounded differently
        assert_same_function(wide.region_features(image, box), plain.region_features(image, grown), layers=22)
        assert not torch.allclose(plain.region_features(image, box), plain.region_features(image, grown), atol=1e-3)


def test_multiscale_fast_pools_each_region_from_the_scale_that_fits_it():
    """image_scales=(0.5, 1, 2): a region is pooled from the scale where its side is closest to
    roi_size x stride pixels, and its features equal those of a one-scale detector at that scale."""
    from detector.rcnn.model import assign_levels, scale_images

    rois = torch.tensor([[0, 0, 0, 16, 16], [0, 0, 0, 64, 64], [0, 10, 10, 138, 138], [0, 0, 0, 32, 128.0]])
    assert assign_levels(rois, (0.5, 1.0, 2.0), 64).tolist() == [2, 1, 0, 1]  # sides 16, 64, 128, 64
    multi = _detector("fast", image_scales=(0.5, 1.0, 2.0)).eval()
    image = torch.randn(1, 3, 160, 192)
    with torch.no_grad():
        got = multi.region_features(image, rois)
        for k, factor in enumerate((2.0, 1.0, 0.5, 1.0)):
            single = _detector("fast", image_scales=(factor,)).eval()
            single.load_state_dict(multi.state_dict())
            want = single.region_features(image, rois[k : k + 1])
            assert_same_function(got[k : k + 1], want, layers=22, what=f"region {k}")  # batched with others
        fmap = multi.trunk(scale_images(image, 2.0))
        assert fmap.shape[-2:] == (20, 24)  # 320 x 384 at stride 16
    logits, deltas = multi.train()(image, rois)  # trains through every level
    logits.sum().backward()
    assert multi.backbone.conv1.conv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="image_scales"):
        _detector("fast", image_scales=())
