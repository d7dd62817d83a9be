"""The typed config system: strict merge, dotted overrides, one-line errors, round trips."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from detector.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_opts,
    read_yaml,
    save_config,
)


@dataclass
class Optim:
    lr: float = 0.01
    steps: tuple[int, ...] = (8, 16)
    kind: Literal["sgd", "adam"] = "sgd"


@dataclass
class Cfg:
    name: str = "run"
    epochs: int = 10
    amp: bool = False
    weights: str | None = None
    optim: Optim = field(default_factory=Optim)
    classes: list[str] = field(default_factory=list)


def _write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_file_then_opts(tmp_path):
    p = _write(tmp_path, "epochs: 3\noptim:\n  lr: 1\n  steps: [2, 4]\nclasses: [a, b]\n")
    cfg = load_config(Cfg, p, ["optim.kind=adam", "weights=/w.pth", "amp=true", "epochs=5"])
    assert cfg == Cfg(
        epochs=5, amp=True, weights="/w.pth", optim=Optim(lr=1.0, steps=(2, 4), kind="adam"), classes=["a", "b"]
    )
    assert isinstance(cfg.optim.lr, float)
    assert load_config(Cfg) == Cfg()
    assert load_config(Cfg, p, ["weights=null"]).weights is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("epoch: 3\n", "unknown key 'epoch'"),
        ("optim:\n  momentum: 0.9\n", "unknown key 'optim.momentum'"),
        ("epochs: ten\n", "'epochs' expects int, got 'ten'"),
        ("epochs: 2.5\n", "'epochs' expects int"),
        ("amp: 1\n", "'amp' expects bool"),
        ("optim:\n  kind: rmsprop\n", "'optim.kind' must be one of ['sgd', 'adam']"),
        ("optim:\n  steps: [1, x]\n", "'optim.steps[1]' expects int"),
        ("optim: 3\n", "'optim' is a section"),
        ("weights: 3\n", "'weights' expects"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("epochs: [\n", "invalid YAML at line"),
    ],
)
def test_file_errors_are_one_line_with_key_and_file(tmp_path, text, expected):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(Cfg, p)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(p)) and expected in msg, msg


def test_opts_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^--opts: unknown key 'optim.lrr'"):
        load_config(Cfg, None, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match=r"^--opts: expected key=value"):
        parse_opts(["epochs"])
    with pytest.raises(ConfigError, match="config file not found"):
        read_yaml(tmp_path / "missing.yaml")


def test_parse_opts_values(tmp_path):
    assert parse_opts(["a.b=1", "a.c=[1, 2]", "d=x y", "e=", "f=1e-3"]) == {
        "a": {"b": 1, "c": [1, 2]},
        "d": "x y",
        "e": "",
        "f": "1e-3",  # YAML 1.1 reads this as a string...
    }
    # ...which a float field still takes, from --opts and from a file
    assert load_config(Cfg, None, ["optim.lr=1e-3"]).optim.lr == pytest.approx(1e-3)
    assert load_config(Cfg, _write(tmp_path, "optim:\n  lr: 5e-4\n")).optim.lr == pytest.approx(5e-4)
    with pytest.raises(ConfigError, match="'optim.lr' expects float, got 'fast'"):
        load_config(Cfg, None, ["optim.lr=fast"])


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config(Cfg, None, ["optim.steps=[3]", "classes=[x]", "weights=a.pth"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    assert load_config(Cfg, path) == cfg
    assert config_from_dict(Cfg, config_to_dict(cfg)) == cfg
    assert config_to_dict(cfg)["optim"]["steps"] == [3]
    assert "!!python" not in path.read_text()
