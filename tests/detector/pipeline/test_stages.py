"""The one-command form's plan: which splits, which stages in which folders, what --resume
skips, and the one-line errors of a config that cannot be planned."""

import pytest
import yaml

from detector.config import load_config
from detector.data.records import DatasetError
from detector.errors import UserError
from detector.pipeline import run as run_mod
from detector.pipeline.settings import Settings, resolve_settings
from detector.pipeline.splits import Splits, load_splits, with_defaults
from detector.rcnn.config import DetTrainConfig
from tests.detector.data.builders import write_coco, write_image
from tests.helpers import ROOT


def _cfg(*opts):
    return load_config(DetTrainConfig, ROOT / "configs" / "voc_custom.yaml", list(opts))


def test_stages_follow_the_config():
    assert run_mod.stage_names(_cfg(), True) == ["multibox", "rcnn", "test"]  # the config's MultiBox proposals
    assert run_mod.stage_names(_cfg("proposals.method=ss"), False) == ["rcnn"]
    assert run_mod.stage_names(_cfg("proposals.multibox_ckpt=mb.pth"), True) == ["rcnn", "test"]
    fast = _cfg("proposals.method=ss", "head.mode=fast", "pipeline.init_from=rcnn")
    assert run_mod.stage_names(fast, True) == ["rcnn", "fast", "test"]
    assert run_mod.stage_names(_cfg("proposals.method=ss", "head.mode=fast"), False) == ["fast"]


def test_xml_splits_default_to_the_lists_there(tmp_path):
    lists = tmp_path / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("a\n")
    assert with_defaults(Splits(str(tmp_path))) == Splits(str(tmp_path), "train", None, None)
    for name in ("val", "test"):
        (lists / f"{name}.txt").write_text("b\n")
    assert with_defaults(Splits(str(tmp_path))) == Splits(str(tmp_path), "train", "val", "test")
    named = Splits(str(tmp_path), "trainval", "val")  # named: kept, nothing added
    assert with_defaults(named) == named
    assert with_defaults(Splits("train.json")) == Splits("train.json")
    (lists / "train.txt").unlink()
    with pytest.raises(DatasetError, match="no --train-split given and no ImageSets/Main/train.txt"):
        with_defaults(Splits(str(tmp_path)))


def test_multibox_proposals_without_a_network_or_its_config_is_one_line(tmp_path):
    cfg = yaml.safe_load((ROOT / "configs" / "voc_custom.yaml").read_text())
    del cfg["pipeline"]["multibox_config"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UserError, match="set pipeline.multibox_config"):
        resolve_settings(path, [], None, False, None)
    s = resolve_settings(ROOT / "configs" / "voc_custom.yaml", [], None, False, None)  # beside the config
    assert s.multibox.head == "conv" and s.multibox.optim.epochs == 16


class Stopped(Exception):
    pass


def test_resume_skips_done_stages_and_runs_the_rest(tmp_path, monkeypatch):
    """Stages stand in for training: each writes its done mark; the first run is stopped in the
    test stage, the resumed one must not train again and must run the test."""
    calls, tests = [], []

    def train(stage, s, splits, run, resume):
        calls.append((stage, resume))
        (run / stage).mkdir(parents=True, exist_ok=True)
        (run / stage / "final.pth").write_bytes(b"x")
        return {"mAP": 0.5}

    def test(cfg, ckpt, data, run):
        calls.append(("test", str(ckpt.relative_to(run))))
        tests.append(1)
        if len(tests) == 1:
            raise Stopped  # stopped between the last training and the end of the test
        (run / "test" / "analysis").mkdir(parents=True, exist_ok=True)
        (run / "test" / "analysis" / "index.html").write_text("page")
        (run / "test" / "report.json").write_text('{"mAP": 0.75}')
        return {"mAP": 0.75}

    monkeypatch.setattr(run_mod, "_train_stage", train)
    monkeypatch.setattr(run_mod, "test_stage", test)
    s = Settings(_cfg("proposals.method=ss", "head.mode=fast", "pipeline.init_from=rcnn"))
    data = {"train": None, "test": None}
    with pytest.raises(Stopped):
        run_mod.run_pipeline(s, data, Splits("d"), tmp_path)
    assert calls == [("rcnn", False), ("fast", False), ("test", "fast/final.pth")]
    assert run_mod.is_done(tmp_path, "fast") and not run_mod.is_done(tmp_path, "test")
    calls.clear()
    res = run_mod.run_pipeline(s, data, Splits("d"), tmp_path, resume=True)
    assert calls == [("test", "fast/final.pth")] and res["test"] == {"mAP": 0.75}
    calls.clear()
    res = run_mod.run_pipeline(s, data, Splits("d"), tmp_path, resume=True)  # all done: the report read back
    assert calls == [] and res["test"] == {"mAP": 0.75}
    (tmp_path / "fast" / "final.pth").unlink()  # a stage stopped inside: resumed, the ones after it run again
    calls.clear()
    run_mod.run_pipeline(s, data, Splits("d"), tmp_path, resume=True)
    assert calls == [("fast", True), ("test", "fast/final.pth")]  # the test again: its weights changed


def test_coco_splits_load_as_named_and_must_share_categories(tmp_path):
    def coco(name, cats):
        write_image(tmp_path / "img" / f"{name}.jpg", 40, 30)
        return write_coco(tmp_path / f"{name}.json", [{"id": 1, "file_name": f"{name}.jpg", "width": 40, "height": 30}],
                          [{"image_id": 1, "category_id": cats[0][0], "bbox": [1, 1, 10, 10]}], cats)  # fmt: skip

    train, test = coco("train", [(3, "ball")]), coco("test", [(3, "ball")])
    data = load_splits(Splits(str(train), None, None, str(test), str(tmp_path / "img"), None, str(tmp_path / "img")))
    assert list(data) == ["train", "test"] and len(data["test"].records) == 1  # no val: trainers validate on train
    other = coco("other", [(4, "cup")])
    with pytest.raises(DatasetError, match="other.json: its categories differ"):
        load_splits(Splits(str(train), None, None, str(other), str(tmp_path / "img"), None, str(tmp_path / "img")))
    with pytest.raises(DatasetError, match="the test split must be another .json"):
        load_splits(Splits(str(train), None, None, "test", str(tmp_path / "img")))
