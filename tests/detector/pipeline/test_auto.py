"""Each --auto choice on synthetic size distributions, worked out by hand from the rules in
detector.pipeline.auto; where an --init's input size comes from; --opts winning over a choice."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from detector.checkpoint import save_checkpoint
from detector.data.records import AnnotationLog, DetectionDataset, ImageRecord
from detector.data.stats import split_report
from detector.errors import UserError
from detector.pipeline.auto import detector_choices, init_input_size, multibox_choices, small_object_size
from detector.pipeline.settings import overridden, resolve_settings
from detector.rcnn.config import DetTrainConfig
from tests.helpers import ROOT


def _split(n: int, w: int, h: int, objects: list[tuple[int, float]], extra: dict[int, list] | None = None) -> dict:
    """``n`` images of ``w x h``, each with ``objects`` ((label, square side)), plus ``extra``
    objects in some images (index -> list); classes A, B, C."""
    recs = []
    for i in range(n):
        objs = objects + (extra or {}).get(i, [])
        boxes = np.array([[10, 10, 10 + s, 10 + s] for _, s in objs], np.float32).reshape(-1, 4)
        recs.append(ImageRecord(i, Path(f"{i}.jpg"), w, h, boxes, np.array([k for k, _ in objs], np.int64),
                                np.zeros(len(objs), bool), np.zeros(len(objs), bool)))  # fmt: skip
    ds = DetectionDataset("synthetic", "voc", recs, ["A", "B", "C"], ["A", "B", "C"], AnnotationLog("synthetic"))
    return split_report(ds)


def _by_key(choices) -> dict:
    return {c.key: c.value for c in choices}


BCCD_LIKE = [(1, 40)] + [(2, 100)] * 12 + [(3, 180)]  # a platelet, twelve red cells, a white cell


def test_small_crowded_objects_choose_bccds_settings():
    split = _split(205, 640, 480, BCCD_LIKE)
    assert small_object_size(split) == (40.0, "A's median")  # the 10th percentile over all is 100
    c = _by_key(detector_choices(split, DetTrainConfig(), None))
    assert c["proposals.selective_search.resize_width"] == 320  # 640 x 20 / 40
    assert c["proposals.selective_search.k_scale"] == 0.25  # 14 objects an image
    assert (c["head.roi_tap"], c["head.image_size"], c["head.max_image_size"]) == ("inception_3a", 768, 1024)
    assert c["head.train_sizes"] == [608, 688, 768, 848, 928]  # 0.8x-1.2x, to 16 px
    assert (c["optim.epochs"], c["eval_every"]) == (8, 4)  # 1600 / 205
    assert "head.input_size" not in c  # no --init: the config's
    mb = _by_key(multibox_choices(split, 40.0, "A's median"))
    assert (mb["data.input_size"], mb["data.max_size"], mb["optim.epochs"]) == (288, 384, 16)  # 480 x 24 / 40
    assert mb["levels"] == ["inception_3b", "inception_4e", "inception_5b"] and "optim.batch_size" not in mb


def test_one_large_object_an_image_chooses_coarse_settings():
    split = _split(100, 500, 375, [(1, 250)])
    c = _by_key(detector_choices(split, DetTrainConfig(), None))
    assert c["proposals.selective_search.resize_width"] == 192  # 500 x 20 / 250 = 40, raised to the floor
    assert c["proposals.selective_search.k_scale"] == 1.0  # one object an image: whole objects
    assert (c["head.roi_tap"], c["head.image_size"]) == ("inception_4e", 320)  # 375 x 128 / 250 = 192 -> 320
    assert c["head.max_image_size"] == 416  # 320 x 4/3 = 427 -> 416
    assert c["optim.epochs"] == 16
    mb = _by_key(multibox_choices(split, 250.0, "A's median", batch_size=8))
    assert mb["data.input_size"] == 224 and mb["levels"] == ["inception_4e", "inception_5b"]  # 250 px at 224/375: 149
    assert mb["optim.epochs"] == 32


def test_a_rare_small_class_is_served_and_a_tiny_one_is_not():
    extra = {i: [(2, 20)] for i in range(6)} | {i: [(3, 8)] for i in range(6, 9)}  # B: 6 objects, C: 3
    split = _split(1000, 640, 480, [(1, 100)], extra)
    assert small_object_size(split) == (20.0, "B's median")  # C has fewer than 5 objects; p10 is 100
    assert _by_key(detector_choices(split, DetTrainConfig(), None))["proposals.selective_search.resize_width"] == 640
    few = _split(6, 640, 480, BCCD_LIKE)
    mb = _by_key(multibox_choices(few, 40.0, "A", batch_size=8))
    assert mb["optim.batch_size"] == 6 and mb["optim.epochs"] == 100  # 3200 / 6, capped
    assert _by_key(detector_choices(few, DetTrainConfig(), None))["optim.epochs"] == 60  # 1600 / 6, capped


def test_fast_from_rcnn_gets_an_rcnn_stage_and_one_and_a_half_times_its_epochs():
    cfg = DetTrainConfig()
    cfg.head.mode, cfg.pipeline.init_from = "fast", "rcnn"
    c = _by_key(detector_choices(_split(205, 640, 480, BCCD_LIKE), cfg, None))
    assert c["pipeline.rcnn_opts"] == ["optim.epochs=8", "eval_every=4"]
    assert (c["optim.epochs"], c["eval_every"]) == (12, 6)


def test_init_input_size_comes_from_the_file(tmp_path):
    cls = save_checkpoint(tmp_path / "cls.pth", {"w": torch.zeros(1)}, {"data": {"input_size": 96}})
    det = save_checkpoint(tmp_path / "det.pth", {"w": torch.zeros(1)}, {"head": {"input_size": 48}})
    tv = tmp_path / "tv.pth"
    torch.save({"conv1.conv.weight": torch.zeros(1)}, tv)
    assert init_input_size(str(cls)) == (96, "cls.pth's classifier input")
    assert init_input_size(str(det)) == (48, "det.pth's head.input_size")
    assert init_input_size(str(tv))[0] == 224 and init_input_size("bvlc.onnx")[0] == 224
    assert init_input_size(None) == (None, "no --init")
    split = _split(205, 640, 480, BCCD_LIKE)
    assert _by_key(detector_choices(split, DetTrainConfig(), str(cls)))["head.input_size"] == 96


def test_opts_win_over_the_choices_and_multibox_opts_reach_its_stage(tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "voc_custom.yaml").read_text())
    cfg["pipeline"]["multibox_config"] = str(ROOT / "configs" / "voc_custom_multibox.yaml")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    split = _split(205, 640, 480, BCCD_LIKE)
    opts = ["optim.epochs=3", "multibox.optim.lr=0.5"]
    s = resolve_settings(path, opts, None, True, split)
    assert s.det.optim.epochs == 3 and s.det.eval_every == 4 and s.det.pipeline.auto  # the user's epochs, auto's rest
    assert s.det.proposals.selective_search.resize_width == 320 and s.det.head.image_size == 768
    assert [c.key for c in overridden(s.choices, opts)] == ["optim.epochs"]
    assert s.multibox.data.input_size == 288 and s.multibox.optim.lr == 0.5 and s.multibox.optim.epochs == 16
    plain = resolve_settings(path, ["optim.epochs=3"], None, False, None)  # without --auto: the YAML's
    assert plain.det.head.image_size == 720 and not plain.choices and plain.multibox.data.input_size == 320
    cfg["proposals"]["method"] = "ss"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UserError, match="trains no MultiBox network"):
        resolve_settings(path, ["multibox.optim.lr=0.5"], None, True, split)
