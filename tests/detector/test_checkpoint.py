"""Checkpoints: atomic write, weights_only read, config inside, clear errors."""

import pytest
import torch

from backbones import WeightsError
from detector.backbone import ModelConfig
from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.cli import UserError
from detector.config import config_from_dict


def test_round_trip_with_config(tmp_path):
    cfg = ModelConfig(variant="paper", num_classes=3)
    state = {"w": torch.arange(6.0).view(2, 3)}
    path = save_checkpoint(tmp_path / "ck" / "last.pth", state, cfg, epoch=2, step=40)
    assert [p.name for p in path.parent.iterdir()] == ["last.pth"]  # no temporary left behind
    ck = load_checkpoint(path)
    assert torch.equal(ck["model"]["w"], state["w"])
    assert (ck["epoch"], ck["step"]) == (2, 40)
    assert config_from_dict(ModelConfig, ck["config"]) == cfg


def test_errors(tmp_path):
    with pytest.raises(WeightsError, match="checkpoint of this project not found"):
        load_checkpoint(tmp_path / "none.pth")
    foreign = tmp_path / "sd.pth"
    torch.save({"w": torch.zeros(1)}, foreign)
    with pytest.raises(UserError, match="not a checkpoint of this project"):
        load_checkpoint(foreign)
