"""The torchvision peers' training loop: its time-based schedule, its data, a short real run."""

import math

import numpy as np
import pytest
import torch

from detector.backbone import ModelConfig, build_backbone
from detector.benchmarks.peers import GOOGLENET_PEER, PeerConfig, _item, build_peer, detect_peer, lr_at, train_peer
from detector.checkpoint import save_checkpoint
from detector.config import load_config
from detector.data import load_dataset
from detector.rcnn.config import DetTrainConfig
from detector.rcnn.predict import build_detector
from tests.detector.rcnn.conftest import write_trivial_voc


def test_lr_warms_up_then_follows_a_cosine_of_the_elapsed_time():
    cfg = PeerConfig(batch_size=4, lr_per_16=0.02, warmup=0.1)
    base = 0.02 * 4 / 16
    assert lr_at(0.0, cfg) == pytest.approx(base * 0.01 * 1.0, rel=1e-6)  # (0 + 1e-3) / 0.1 of the way up
    assert lr_at(0.05, cfg) == pytest.approx(base * (0.051 / 0.1) * 0.5 * (1 + math.cos(math.pi * 0.05)))
    assert lr_at(0.5, cfg) == pytest.approx(base * 0.5)
    assert lr_at(1.0, cfg) == pytest.approx(0.0, abs=1e-12) and lr_at(1.7, cfg) == pytest.approx(0.0, abs=1e-12)


def test_a_flipped_item_keeps_its_box_on_the_object(tmp_path):
    root = write_trivial_voc(tmp_path / "voc", n_train=4, n_val=1)
    ds = load_dataset(root, "train")
    r = next(r for r in ds.records if len(r.boxes))
    for flip in (False, True):
        image, target = _item(r, flip)
        assert image.shape[0] == 3 and 0.0 <= image.min() and image.max() <= 1.0
        x1, y1, x2, y2 = target["boxes"][0].round().int().tolist()
        inside = image[:, y1:y2, x1:x2]  # the object (red or blue) against the grey background
        spread = (inside.max(0).values - inside.min(0).values).mean()
        assert spread > 0.5, (flip, spread)
        assert target["labels"].tolist() == r.labels.tolist()
    unflipped, _ = _item(r, False)
    torch.testing.assert_close(image, unflipped.flip(-1))


@pytest.mark.slow
def test_unreadable_images_are_skipped_and_counted(tmp_path):
    root = write_trivial_voc(tmp_path / "voc", n_train=4, n_val=1)
    ds = load_dataset(root, "train")
    for r in ds.records[1:]:  # one readable image of 4: a batch of 2 needs two passes over them
        r.file.write_bytes(b"not a jpeg")
    cfg = PeerConfig(min_size=96, max_size=96, batch_size=2)
    torch.manual_seed(0)
    model = build_peer("fasterrcnn_mobilenet_v3_large_fpn", len(ds.class_names), cfg)
    info = train_peer(model, ds, 2.0, torch.device("cpu"), cfg, progress=False)
    assert info["steps"] >= 1 and info["images"] == 2 * info["steps"] and info["skipped"] >= 3
    arrays, failed, secs = detect_peer(model, ds, torch.device("cpu"), progress=False)
    assert [f for f, _ in failed] == [str(r.file) for r in ds.records[1:]] and secs > 0
    assert set(np.unique(arrays.image_idx)) <= {0} and len(arrays.boxes) <= cfg.max_dets
    assert model.roi_heads.box_predictor.cls_score.out_features == len(ds.class_names) + 1


def classifier_checkpoint(path, seed: int = 3):
    """A train_cls-style checkpoint of a bn GoogLeNet with seeded random weights (10 classes)."""
    torch.manual_seed(seed)
    net = build_backbone(ModelConfig(variant="bn", num_classes=10))
    return save_checkpoint(path, net.state_dict(), {"data": {"input_size": 64}}), net


def test_the_googlenet_peer_starts_from_the_same_trunk_as_ours(tmp_path):
    path, net = classifier_checkpoint(tmp_path / "cls.pth")
    peer = build_peer(GOOGLENET_PEER, 3, PeerConfig(min_size=96, max_size=96), init=str(path))
    ours = build_detector(load_config(DetTrainConfig, None, [f"init={path}"]), 3)
    trunk = peer.backbone.net.state_dict()
    for key in ("conv1.conv.weight", "inception4e.branch4.1.bn.running_mean", "inception5b.branch1.conv.weight"):
        torch.testing.assert_close(trunk[key], net.state_dict()[key], rtol=0, atol=0)
        torch.testing.assert_close(ours.backbone.state_dict()[key], net.state_dict()[key], rtol=0, atol=0)
    assert peer.roi_heads.box_head.net is peer.backbone.net  # 5a/5b per region: the same layers
    scratch = build_peer(GOOGLENET_PEER, 3, PeerConfig(min_size=96, max_size=96))
    assert not torch.equal(scratch.backbone.net.state_dict()["conv1.conv.weight"], trunk["conv1.conv.weight"])
    peer.eval()
    with torch.inference_mode():
        out = peer([torch.rand(3, 96, 128)])[0]
    assert out["boxes"].shape[1] == 4 and len(out["boxes"]) == len(out["scores"]) <= 100
    assert peer.roi_heads.box_predictor.cls_score.in_features == 1024
