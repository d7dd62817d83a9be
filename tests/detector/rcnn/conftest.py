"""A trivial detection set (VOC layout): red squares and blue disks on a grey, noisy background."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.detector.data.builders import voc_xml
from tests.helpers import ROOT, run_tool

CONFIG = str(ROOT / "configs" / "demo_det.yaml")
FAST = [
    "proposals.method=ss", "proposals.selective_search.resize_width=null", "proposals.workers=1",
    "head.input_size=32", "head.context=2", "head.image_size=96", "head.image_scales=[1]", "head.roi_size=2",
    "model.variant=bn", "optim.batch_size=4", "optim.lr=0.002", "optim.ema_decay=0.9", "optim.schedule.warmup_epochs=0",
    "sampling.regions_per_batch=96", "log_every=2", "device=cpu", "amp=false",
]  # fmt: skip


def write_trivial_voc(root: Path, n_train: int = 16, n_val: int = 8, size: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_val)):
        ids = []
        for i in range(n):
            img = np.clip(rng.normal(128, 12, (size, size, 3)), 0, 255).astype(np.uint8)
            objects = []
            k = 0 if i % 8 == 7 else 1 + i % 2  # every 8th image holds no object
            placed = []
            for _ in range(k):
                s = int(rng.integers(22, 36))
                for _try in range(20):
                    x, y = (int(v) for v in rng.integers(2, size - s - 2, 2))
                    if all(x + s < a or a + b < x or y + s < c or c + b < y for a, c, b in placed):
                        break
                placed.append((x, y, s))
                if rng.random() < 0.5:
                    cv2.rectangle(img, (x, y), (x + s - 1, y + s - 1), (220, 30, 30), -1)
                    name = "square"
                else:
                    cv2.circle(img, (x + s // 2, y + s // 2), s // 2, (30, 30, 220), -1)
                    name = "disk"
                objects.append((name, x + 1, y + 1, x + s, y + s, 0))  # 1-based inclusive
            stem = f"{split}_{i:03d}"
            cv2.imwrite(str(root / "JPEGImages" / f"{stem}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            (root / "Annotations" / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", size, size, objects))
            ids.append(stem)
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


@pytest.fixture(scope="session")
def trivial_voc(tmp_path_factory) -> Path:
    return write_trivial_voc(tmp_path_factory.mktemp("trivial") / "voc")


def train_det(data, out, *opts, resume=False, splits=("train", "val")):
    """tools/train_det.py with the small, fast settings above (``opts`` override them)."""
    args = ["--config", CONFIG, "--data", str(data), "--train-split", splits[0], "--val-split", splits[1]]
    return run_tool("train_det.py", *args, "--out", str(out), *(["--resume"] if resume else []), "--opts", *FAST, *opts)


def train_trivial(data: Path, out: Path, mode: str, seed: int = 0):
    """The learning run that the ``trained`` fixtures and ``tests/spread.py`` share: 14 epochs
    on the trivial set, validated after 7 and 14. Returns ``(completed process, train losses, val mAPs)``."""
    res = train_det(data, out, "optim.epochs=14", "eval_every=7", f"head.mode={mode}", f"seed={seed}")
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return res, [r["loss"] for r in rows if r["kind"] == "train"], [r["mAP"] for r in rows if r["kind"] == "val"]


def _train_mode(trivial_voc, tmp_path_factory, mode: str):
    out = tmp_path_factory.mktemp(f"det_{mode}") / "run"
    res, _, _ = train_trivial(trivial_voc, out, mode)
    return out, res


@pytest.fixture(scope="session")
def trained(trivial_voc, tmp_path_factory):
    """An ``rcnn`` detector trained on the trivial set: ``(run folder, completed process)``."""
    return _train_mode(trivial_voc, tmp_path_factory, "rcnn")


@pytest.fixture(scope="session")
def trained_fast(trivial_voc, tmp_path_factory):
    """The same training in ``fast`` mode."""
    return _train_mode(trivial_voc, tmp_path_factory, "fast")
