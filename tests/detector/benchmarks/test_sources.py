"""tools/benchmark.py sources: each checkpoint detects the same images with its own proposals, timed
per part; ``PATH@N`` caps the regions scored."""

import json

import pytest

from detector.benchmarks.sources import parse_entry
from detector.errors import UserError
from tests.detector.rcnn.conftest import write_trivial_voc
from tests.helpers import run_tool, tiny_detector_checkpoint


def test_parse_entry():
    assert parse_entry("runs/a/final.pth") == (parse_entry("runs/a/final.pth")[0], None)
    path, n = parse_entry("runs/a@b/final.pth@120")
    assert (str(path), n) == ("runs/a@b/final.pth", 120)
    paths, n = parse_entry("a.pth+b/c.pth@10")
    assert ([str(p) for p in paths], n) == (["a.pth", "b/c.pth"], 10)
    for bad in ("final.pth@", "final.pth@0", "final.pth@ten"):
        with pytest.raises(UserError, match="count after @"):
            parse_entry(bad)


@pytest.mark.slow
def test_sources_times_each_checkpoint_on_the_same_images(tmp_path):
    root = write_trivial_voc(tmp_path / "voc", n_train=2, n_val=3, size=64)
    ckpt = tiny_detector_checkpoint(tmp_path / "det.pth")
    out = tmp_path / "r.json"
    res = run_tool("benchmark.py", "sources", "--data", str(root), "--split", "val", "--ckpt", str(ckpt),
                   "--ckpt", f"{ckpt}@3", "--images", "2", "--precision", "fp32,int8", "--json", str(out))  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["images"] == 2 and [(row["method"], row["precision"]) for row in r["rows"]] == [
        ("ss", "fp32"),
        ("ss", "int8"),
        ("ss", "fp32"),
        ("ss", "int8"),
    ]  # each checkpoint in each precision, int8 calibrated on train
    full, _, capped, _ = r["rows"]
    assert capped["max_proposals"] == 3 and capped["regions_per_image"] <= 3 < full["regions_per_image"]
    assert full["speedup_vs_first"] == 1.0 and capped["speedup_vs_first"] > 0
    for row in r["rows"]:  # the whole is timed as its two parts
        assert 0 < row["proposal_seconds"] and 0 < row["score_seconds"]
    assert "| fp32 | ss | rcnn |" in res.stdout
    missing = run_tool("benchmark.py", "sources", "--data", str(root), "--ckpt", f"{ckpt}+{tmp_path / 'nope.pth'}")
    assert missing.returncode != 0 and "nope.pth: no such checkpoint" in missing.stderr
    ens = run_tool("benchmark.py", "sources", "--data", str(root), "--split", "val", "--ckpt", f"{ckpt}+{ckpt}",
                   "--images", "1", "--tta", "none", "hflip,vflip", "--json", str(out))  # fmt: skip
    assert ens.returncode == 0, ens.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["members"], r["views"]) for r in rows] == [(2, 1), (2, 3)] and rows[1]["ckpt"].endswith(
        "tta hflip,vflip"
    )
