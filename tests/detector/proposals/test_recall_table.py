"""Recall against the number of proposals, for several caches in one table and one figure,
checked against a hand computation."""

import json

import numpy as np
import pytest

from detector.commands import eval_proposals
from detector.data import load_dataset
from detector.proposals.cache import ProposalCache
from detector.proposals.recall import proposal_recall, recall_table
from tests.detector.data.builders import write_voc
from tests.helpers import run_main


@pytest.fixture
def two_caches(tmp_path):
    # image a: one box (0, 0, 40, 40) continuous; image b: two boxes
    root = write_voc(tmp_path / "voc", "val", {
        "a": (100, 100, [("cat", 1, 1, 40, 40, 0)]),
        "b": (100, 100, [("cat", 51, 51, 90, 90, 0), ("dog", 1, 61, 20, 80, 0)]),
    })  # fmt: skip
    first = ProposalCache(tmp_path / "ss")
    first.write_meta({"method": "ss"})
    # rank order matters: a's exact box comes second; b's first box is found at 60% overlap first
    first.put("a", np.array([[50, 50, 60, 60], [0, 0, 40, 40]], np.float32), ss_seconds=0.5)
    first.put("b", np.array([[50, 50, 90, 74], [0, 60, 20, 80], [50, 50, 90, 90]], np.float32), ss_seconds=1.5)
    second = ProposalCache(tmp_path / "mb")
    second.write_meta({"method": "multibox"})
    second.put("a", np.array([[0, 0, 40, 36]], np.float32), mb_seconds=0.01)
    second.put("b", np.zeros((0, 4), np.float32), mb_seconds=0.03)
    return root, tmp_path


def test_recall_and_abo_at_each_count_by_hand(two_caches):
    root, tmp = two_caches
    ds = load_dataset(str(root), "val")
    res = proposal_recall(ds, ProposalCache(tmp / "ss"), counts=(1, 2, 3))
    # best IoU of (a, b1, b2) within the first n: n=1: 0, 0.6, 0; n=2: 1, 0.6, 1; n=3: 1, 1, 1
    assert res["curve"]["recall@0.5"] == pytest.approx([1 / 3, 1.0, 1.0])
    assert res["curve"]["recall@0.7"] == pytest.approx([0.0, 2 / 3, 1.0])
    assert res["curve"]["abo"] == pytest.approx([0.6 / 3, 2.6 / 3, 1.0])
    assert res["seconds_per_image"] == pytest.approx(1.0) and res["timed_images"] == 2
    mb = proposal_recall(ds, ProposalCache(tmp / "mb"), counts=(1, 2, 3))
    assert mb["curve"]["recall@0.5"] == pytest.approx([1 / 3] * 3) and mb["abo"] == pytest.approx(0.9 / 3)
    assert mb["seconds_per_image"] == pytest.approx(0.02)
    table = recall_table({"ss": res, "mb": mb}, counts=(1, 2, 3)).splitlines()
    assert table[1].split() == ["ss", "recall@0.5", "0.333", "1.000", "1.000", "1.000"]
    assert table[3].split() == ["abo", "0.200", "0.867", "1.000"]
    assert table[4].split() == ["mb", "recall@0.5", "0.333", "0.333", "0.333", "0.020"]


def test_eval_proposals_compares_several_caches(two_caches):
    root, tmp = two_caches
    res = run_main(eval_proposals.main, "--data", str(root), "--split", "val", "--proposals", str(tmp / "ss"),
                   str(tmp / "mb"), "--json", str(tmp / "r.json"), "--plots", str(tmp / "plots"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp / "r.json").read_text())
    assert set(out) == {"ss (ss)", "mb (multibox)"} and out["ss (ss)"]["recall@0.5"] == 1.0
    assert (
        "ss (ss)" in res.stdout and "mb (multibox)" in res.stdout and (tmp / "plots" / "recall_vs_number.png").is_file()
    )
