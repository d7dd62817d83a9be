"""Ensembles average probabilities and regressions before NMS; label mapping; loading errors;
where validation proposals are cached."""

from pathlib import Path

import pytest
import torch

from backbones import googlenet
from detector.checkpoint import save_checkpoint
from detector.cli import UserError
from detector.data.records import AnnotationLog, DetectionDataset, ImageRecord
from detector.rcnn.config import DetTrainConfig
from detector.rcnn.ensemble import Ensemble
from detector.rcnn.model import HeadConfig, RegionDetector
from detector.rcnn.postprocess import PostprocessConfig, postprocess
from detector.rcnn.predict import LoadedDetector, label_map, load_detector
from detector.rcnn.proposals import val_cache_root
from tests.detector.eval.conftest import make_voc_dataset
from tests.helpers import assert_same_function, randomize_bn


def _member(mode: str, seed: int, regression: bool = True) -> LoadedDetector:
    torch.manual_seed(seed)
    head = HeadConfig(mode=mode, input_size=32, context=2, image_size=64, roi_size=2, box_regression=regression)
    model = RegionDetector(randomize_bn(googlenet("bn", aux_logits=False)), 3, head).eval()
    with torch.no_grad():
        model.cls_score.weight.normal_(0, 0.3)
        if model.bbox_pred is not None:
            model.bbox_pred.weight.normal_(0, 0.05)
    return LoadedDetector(model, DetTrainConfig(head=head), ["a", "b", "c"], ["A", "B", "C"], f"m{seed}")


IMAGE = torch.randn(3, 48, 64, generator=torch.Generator().manual_seed(0))
BOXES = torch.tensor([[0.0, 0.0, 30.0, 30.0], [10.0, 5.0, 60.0, 40.0], [20.0, 20.0, 40.0, 46.0]])


@pytest.mark.numerics
def test_ensemble_averages_probabilities_and_regressions():
    a, b = _member("rcnn", 0), _member("fast", 1)
    pa, da = a.model.predict(IMAGE, BOXES)
    xb = torch.nn.functional.interpolate(IMAGE[None], size=(64, 85), mode="bilinear", antialias=True)[0]
    pb, db = b.model.predict(xb, BOXES * (64 / 48))  # fast: the image at its 64 px scale
    probs, deltas = Ensemble([a, b]).score(IMAGE, BOXES)
    assert torch.equal(probs, (pa + pb) / 2) and torch.equal(deltas, (da + db) / 2)  # the same path
    cfg = PostprocessConfig(score_thresh=0.0)
    got = Ensemble([a, b], cfg).detect(IMAGE, BOXES)
    want = postprocess((pa + pb) / 2, (da + db) / 2, BOXES, 48, 64, cfg)
    assert torch.equal(got.labels, want.labels) and torch.equal(got.boxes, want.boxes)
    assert not torch.allclose(Ensemble([a]).score(IMAGE, BOXES)[0], probs, atol=1e-3)  # the members differ


def test_members_without_regression_keep_averaging_the_others():
    a, b = _member("rcnn", 0), _member("rcnn", 2, regression=False)
    _, da = a.model.predict(IMAGE, BOXES)
    probs, deltas = Ensemble([a, b]).score(IMAGE, BOXES)
    assert torch.equal(deltas, da) and probs.shape == (3, 4)
    assert Ensemble([b]).score(IMAGE, BOXES)[1] is None


def test_ensemble_needs_the_same_classes():
    a, b = _member("rcnn", 0), _member("rcnn", 1)
    b.class_names = ["a", "b", "x"]
    with pytest.raises(UserError, match="classes differ"):
        Ensemble([a, b])


def test_label_map_by_name():
    ds = make_voc_dataset({"i1": [("cat", 1, 1, 10, 10, 0)], "i2": [("dog", 1, 1, 10, 10, 0)]}, ["cat", "dog", "emu"])
    names = list(ds.class_names)
    mapping = label_map(names[::-1], ds, "ckpt")
    assert mapping[0] == 0 and [ds.class_names[i - 1] for i in mapping[1:]] == names[::-1]
    with pytest.raises(UserError, match="not in"):
        label_map(["nope"], ds, "ckpt")


@pytest.mark.numerics
def test_load_detector_round_trip_and_errors(tmp_path):
    m = _member("fast", 4)
    save_checkpoint(
        tmp_path / "d.pth", m.model.state_dict(), m.cfg, class_names=["a", "b", "c"], display_names=["A", "B", "C"]
    )
    loaded = load_detector(tmp_path / "d.pth", torch.device("cpu"))
    p0, d0 = m.model.predict(torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(1)), BOXES)
    p1, d1 = loaded.model.predict(torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(1)), BOXES)
    # load_detector folds BatchNorm for inference: the same function summed in another order
    assert_same_function(p1, p0, layers=22, what="probabilities")
    assert_same_function(d1, d0, layers=22, what="box deltas")
    assert loaded.display_names == ["A", "B", "C"]
    save_checkpoint(tmp_path / "cls.pth", m.model.state_dict(), m.cfg)
    with pytest.raises(UserError, match="not a detector checkpoint"):
        load_detector(tmp_path / "cls.pth", torch.device("cpu"))
    save_checkpoint(tmp_path / "bad.pth", m.model.state_dict(), m.cfg, class_names=["a", "b"])
    with pytest.raises(UserError, match="do not fit"):
        load_detector(tmp_path / "bad.pth", torch.device("cpu"))


def test_val_cache_root_separates_colliding_image_ids(tmp_path):
    def split(name, files):
        records = [ImageRecord(i, Path(f"/d/{name}/{f}"), 8, 8, **ImageRecord.empty_arrays()) for i, f in files]
        return DetectionDataset(name, "coco", records, ["a"], [1], AnnotationLog(name))

    root = tmp_path / "proposals"
    train = split("train", [(1, "t1.jpg"), (2, "t2.jpg")])
    assert val_cache_root(train, train, root) == root
    assert val_cache_root(train, split("val", [(3, "v3.jpg")]), root) == root  # disjoint ids
    assert val_cache_root(train, split("val", [(2, "t2.jpg")]), root) == root  # the same image (moved folder)
    assert val_cache_root(train, split("val", [(3, "v3.jpg"), (1, "v1.jpg")]), root) == tmp_path / "proposals_val"
