"""tools/demo.py: top-5 on a generated image, outputs written, user errors in one line."""

import json

import yaml

from tests.helpers import run_tool


def test_demo_prints_top5_and_saves_resolved_config(tmp_path):
    out = tmp_path / "demo"
    res = run_tool("demo.py", "--opts", f"out={out}", "model.variant=paper", "image_size=160")
    assert res.returncode == 0, res.stderr
    assert sum(line.strip().startswith("top-") for line in res.stdout.splitlines()) == 5
    preds = json.loads((out / "predictions.json").read_text())["top5"]
    probs = [p["prob"] for p in preds]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["variant"] == "paper" and saved["image_size"] == 160
    assert (out / "input.jpg").stat().st_size > 0


def test_demo_user_errors_are_one_line(tmp_path):
    for opts, expected in [
        (["model.varient=bn"], "error: --opts: unknown key 'model.varient'"),
        (["model.weights=/no/such.pth"], "error: /no/such.pth: weights file not found"),
        (["model.num_classes=ten"], "error: --opts: 'model.num_classes' expects int"),
    ]:
        res = run_tool("demo.py", "--opts", f"out={tmp_path}", *opts)
        assert res.returncode == 2
        assert res.stderr.strip().startswith(expected) and len(res.stderr.strip().splitlines()) == 1
    res = run_tool("demo.py", "--config", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "config file not found" in res.stderr
