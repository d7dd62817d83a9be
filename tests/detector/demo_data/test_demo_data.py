"""The generated demo dataset: deterministic bytes, every format readable and consistent."""

import hashlib
import json

import numpy as np
import pytest

from detector.config import load_config
from detector.data import load_coco, load_voc
from detector.demo_data import CLASSES, DemoDataConfig, make_demo_data
from detector.demo_data.writer import PRESETS


def _tiny(**kw) -> DemoDataConfig:
    return load_config(DemoDataConfig, None, [f"{k}={v}" for k, v in {**PRESETS["tiny"], **kw}.items()])


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, make_demo_data(root, _tiny(workers=2), progress=False)


def test_same_seed_same_bytes_whatever_the_workers(tiny_data, tmp_path):
    root, manifest = tiny_data
    again = make_demo_data(tmp_path / "again", _tiny(workers=1), progress=False)
    assert again["sha256_images"] == manifest["sha256_images"]
    assert _digest(tmp_path / "again") == _digest(root)
    other = make_demo_data(tmp_path / "other", _tiny(seed=1, workers=1), progress=False)
    assert other["sha256_images"] != manifest["sha256_images"]


def test_layouts_and_counts(tiny_data):
    root, manifest = tiny_data
    assert len(CLASSES) >= 8 and (root / "classes.txt").read_text().split() == CLASSES
    for split, n in (("train", 6), ("val", 3)):
        assert sorted(p.name for p in (root / "cls" / split).iterdir()) == sorted(CLASSES)
        assert all(len(list((root / "cls" / split / c).glob("*.jpg"))) == n for c in CLASSES)
    c = manifest["counts"]
    assert (c["det_train_images"], c["det_val_images"]) == (8, 4)
    for split in ("train", "val"):
        voc = load_voc(root / "det", split, class_names=CLASSES, check_images=True)
        coco = load_coco(root / "det" / "annotations" / f"instances_{split}.json", check_images=True)
        assert not voc.log.counts and not coco.log.counts
        assert [r.file for r in voc.records] == [r.file for r in coco.records]
        for a, b in zip(voc.records, coco.records, strict=True):
            np.testing.assert_array_equal(a.boxes, b.boxes)  # same boxes through both frames
            assert a.labels.tolist() == b.labels.tolist()
            assert ((a.boxes[:, 2:] - a.boxes[:, :2]) >= 1).all()
            assert (
                (a.boxes[:, :2] >= 0).all() and (a.boxes[:, 2] <= a.width).all() and (a.boxes[:, 3] <= a.height).all()
            )
        assert sum(len(r.boxes) for r in voc.records) == c[f"det_{split}_boxes"]
    counts = [len(r.boxes) for r in load_voc(root / "det", "train").records]
    assert min(counts) >= 0 and max(counts) <= 5
    json.loads((root / "manifest.json").read_text())


def test_cli(tmp_path):
    from tests.helpers import run_tool

    res = run_tool(
        "make_demo_data.py", "--out", str(tmp_path / "d"), "--size", "tiny", "--opts", "det_train=2", "det_val=1"
    )
    assert res.returncode == 0, res.stderr
    assert "detection 2 train / 1 val images" in res.stdout
    bad = run_tool("make_demo_data.py", "--out", str(tmp_path / "d"), "--opts", "det_trian=2")
    assert bad.returncode == 2 and "unknown key 'det_trian'" in bad.stderr
