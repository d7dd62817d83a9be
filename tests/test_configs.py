"""Every shipped config loads, strictly, into the config class of the tool it is for."""

import pytest

from detector.classify.config import ClsTrainConfig
from detector.commands.demo import DemoConfig
from detector.config import load_config
from detector.proposals.multibox import MultiBoxConfig
from detector.rcnn.config import DetTrainConfig
from tests.helpers import ROOT


def _class_for(name: str):
    if name == "demo":
        return DemoConfig
    if name.endswith("_cls"):
        return ClsTrainConfig
    if name.endswith(("_det", "_custom")):
        return DetTrainConfig
    if "multibox" in name:
        return MultiBoxConfig
    raise AssertionError(f"configs/{name}.yaml: no tool claims it")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_config_loads(path):
    cfg = load_config(_class_for(path.stem), path, [])
    if isinstance(cfg, DetTrainConfig):
        assert cfg.sampling.regions_per_batch // cfg.optim.batch_size >= 1
        assert cfg.head.mode in ("rcnn", "fast")


def test_det_configs_follow_the_paper_where_it_speaks():
    cfg = load_config(DetTrainConfig, ROOT / "configs" / "ilsvrc2014_det.yaml", [])
    assert (cfg.head.mode, cfg.head.input_size, cfg.head.context) == ("rcnn", 224, 16.0)
    assert (cfg.sampling.regions_per_batch, cfg.sampling.positive_fraction, cfg.sampling.fg_iou) == (128, 0.25, 0.5)
    assert cfg.test.nms_iou == 0.3 and cfg.eval_metric == "ilsvrc"
    assert (cfg.proposals.method, cfg.proposals.selective_search.k_scale, cfg.proposals.top_k) == ("combined", 2.0, 200)


@pytest.mark.parametrize("name", ["voc_custom", "coco_custom"])
def test_custom_configs_state_their_choices_explicitly(name):
    """The starting points for a user's dataset fix the proposal width (recorded in the cache)
    and say in their header how to choose the mode, size, epochs, proposals and initialisation."""
    path = ROOT / "configs" / f"{name}.yaml"
    raw = __import__("yaml").safe_load(path.read_text())
    assert raw["proposals"]["selective_search"]["resize_width"] in (320, 500)
    cfg = load_config(DetTrainConfig, path, [])
    assert cfg.eval_metric == ("voc" if name == "voc_custom" else "coco") and cfg.head.mode == "rcnn"  # BCCD's choice
    header = path.read_text().split("\nmodel:")[0].lower()
    assert len(header.splitlines()) <= 25  # what to choose and why; the BCCD history is in docs/TOOLS.md
    for topic in ("rcnn", "input size", "epochs", "resize_width" if name == "voc_custom" else "width", "--init"):
        assert topic in header, topic
