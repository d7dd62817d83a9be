"""docs/ensemble_recipe.sh: its usage, and every member's overrides are valid config keys and values."""

import re
import subprocess
from pathlib import Path

from detector.classify.config import ClsTrainConfig
from detector.config import load_config
from detector.rcnn.config import DetTrainConfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "ensemble_recipe.sh"


def _members() -> list[tuple[list[str], list[str]]]:
    block = re.search(r"MEMBERS=\((.*?)\n\)", SCRIPT.read_text(), re.S).group(1)
    lines = re.findall(r'"([^"]*)"', block)
    return [tuple(part.split() for part in line.split("|")) for line in lines]


def test_usage_without_arguments():
    res = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2 and "ensemble_recipe.sh CLS_CONFIG CLS_DATA DET_CONFIG DET_DATA OUT" in res.stdout


def test_members_differ_and_their_overrides_load():
    members = _members()
    assert len(members) >= 3
    cls = [load_config(ClsTrainConfig, ROOT / "configs" / "demo_cls.yaml", c) for c, _ in members]
    det = [load_config(DetTrainConfig, ROOT / "configs" / "demo_det.yaml", d) for _, d in members]
    assert len({c.seed for c in cls}) == len(members)  # own initial weights and image order
    assert len({(c.data.augment.area, c.data.augment.aspect) for c in cls}) == len(members)  # own crop sampling
    assert len({d.head.context for d in det}) > 1  # one looks at more context
