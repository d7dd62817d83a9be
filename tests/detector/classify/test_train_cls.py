"""tools/train_cls.py end to end on tiny generated data: outputs, resume, DDP, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from backbones import googlenet
from detector.config import load_config
from detector.demo_data import DemoDataConfig, make_demo_data
from detector.demo_data.writer import PRESETS
from tests.helpers import ROOT, free_port, run_tool

# tiny and deterministic: no augmentation, no DataLoader workers, 32 px input, 6 steps an epoch
BASE = [
    "data.input_size=32", "data.resize=36", "data.workers=0", "data.augment.enabled=false",
    "optim.batch_size=10", "optim.lr=0.01", "optim.epochs=3", "optim.ema_decay=0.9",
    "log_every=1", "device=cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def cls_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    cfg = load_config(
        DemoDataConfig,
        None,
        [f"{k}={v}" for k, v in PRESETS["tiny"].items()] + ["workers=1", "det_train=0", "det_val=0"],
    )
    make_demo_data(root, cfg, progress=False)
    return root / "cls"


def _train(data, out, *opts, resume=False):
    args = [
        "--config",
        str(ROOT / "configs" / "demo_cls.yaml"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--opts",
        *BASE,
        *opts,
    ]
    return run_tool("train_cls.py", *args, *(["--resume"] if resume else []))


@pytest.mark.slow
def test_run_writes_everything_and_final_loads(cls_data, tmp_path):
    res = _train(cls_data, tmp_path / "run", "optim.epochs=2")
    assert res.returncode == 0, res.stderr
    assert "val (EMA) top-1" in res.stdout and "done:" in res.stdout
    for name in ("last.pth", "final.pth", "metrics.jsonl", "curves.png", "config.yaml"):
        assert (tmp_path / "run" / name).is_file(), name
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["kind"] == "train"] == list(range(1, 13))
    assert [r["epoch"] for r in recs if r["kind"] == "val"] == [1, 2]
    model = googlenet("bn", num_classes=10, aux_logits=False, weights=str(tmp_path / "run" / "final.pth"))
    assert model.fc.out_features == 10
    last = torch.load(tmp_path / "run" / "last.pth", weights_only=True)
    assert (last["epoch"], last["step"], last["config"]["model"]["num_classes"]) == (2, 12, 10)
    assert set(last) >= {"model", "ema", "optimizer", "scheduler", "rng", "config", "classes"}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert [e.step for e in events.Scalars("train/lr")] == list(range(1, 13))
    assert [e.value for e in events.Scalars("val/top1")] == pytest.approx(
        [r["top1"] for r in recs if r["kind"] == "val"]
    )
    drawn = [t for t in events.Tags()["images"] if t.startswith("val/predictions/")]
    assert len(drawn) == 3 and all(len(events.Images(t)) == 2 for t in drawn)  # after each validation


@pytest.mark.numerics
@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_weights(cls_data, tmp_path):
    full = _train(cls_data, tmp_path / "full")
    assert full.returncode == 0, full.stderr
    out = tmp_path / "cut"
    cmd = [sys.executable, str(ROOT / "tools" / "train_cls.py"), "--config", str(ROOT / "configs" / "demo_cls.yaml"),
           "--data", str(cls_data), "--out", str(out), "--opts", *BASE]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.is_file() and metrics.read_text().count('"train"') >= 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "stopped at step" in err and "--resume" in err, err
    stopped = torch.load(out / "last.pth", weights_only=True)
    assert 4 <= stopped["step"] < 18
    resumed = _train(cls_data, out, resume=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {out / 'last.pth'}" in resumed.stdout
    a = torch.load(tmp_path / "full" / "last.pth", weights_only=True)
    b = torch.load(out / "last.pth", weights_only=True)
    assert a["step"] == b["step"] == 18
    for k in a["model"]:  # the same steps through the same kernels on the same thread count: bit for bit
        assert torch.equal(b["model"][k], a["model"][k]), k
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines() if '"train"' in line]
    assert steps == list(range(1, 19))  # the log has each step once


@pytest.mark.slow
def test_corrupt_image_is_skipped_and_counted(cls_data, tmp_path):
    data = tmp_path / "data"
    subprocess.run(["cp", "-r", str(cls_data), str(data)], check=True)
    (data / "train" / "star" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    res = _train(data, tmp_path / "run", "optim.epochs=1")
    assert res.returncode == 0, res.stderr
    assert "skipped 1 unreadable images" in res.stdout and "broken.jpg" in res.stdout
    val = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if '"val"' in line
    ]
    assert val[0]["skipped_train"] == 1


def test_non_finite_loss_stops_with_one_line(cls_data, tmp_path):
    res = _train(cls_data, tmp_path / "run", "optim.lr=1e30", "optim.name=sgd", "optim.epochs=1")
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]  # after the progress bar: one line
    assert last.startswith("error: non-finite loss at step 2 (epoch 1); lower optim.lr"), res.stderr


def test_bad_config_and_data(cls_data, tmp_path):
    res = _train(cls_data, tmp_path / "run", "optim.lrr=1")
    assert res.returncode == 2 and "unknown key 'optim.lrr'" in res.stderr
    res = _train(cls_data, tmp_path / "run", "data.augment.enabled=true", "data.augment.hflip=1.5")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: --opts: 'data.augment.hflip' must be between 0 and 1, got 1.5"
    ], res.stderr
    assert not (tmp_path / "run" / "last.pth").exists()
    res = _train(tmp_path / "nothing", tmp_path / "run")
    assert res.returncode == 2 and "image folder not found" in res.stderr


@pytest.mark.numerics
@pytest.mark.slow
def test_ddp_two_processes_match_one_process(cls_data, tmp_path):
    # the paper variant (no BatchNorm) without dropout: two ranks of 5 must equal one of 10
    opts = [
        *BASE,
        "model.variant=paper",
        "model.aux_logits=false",
        "model.dropout=0.0",
        "optim.epochs=1",
        "optim.name=sgd",
    ]
    common = ["--config", str(ROOT / "configs" / "demo_cls.yaml"), "--data", str(cls_data), "--opts", *opts]
    single = run_tool("train_cls.py", *common[:4], "--out", str(tmp_path / "one"), *common[4:])
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
         str(ROOT / "tools" / "train_cls.py"), *common[:4], "--out", str(tmp_path / "two"), *common[4:]],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    a = torch.load(tmp_path / "one" / "last.pth", weights_only=True)
    b = torch.load(tmp_path / "two" / "last.pth", weights_only=True)
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        torch.testing.assert_close(b["model"][k], a["model"][k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.slow
def test_eval_cls_ensemble_and_table3(cls_data, tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        res = _train(cls_data, tmp_path / name, "optim.epochs=1", f"seed={seed}")
        assert res.returncode == 0, res.stderr
    ckpts = [str(tmp_path / n / "final.pth") for n in ("a", "b")]
    out = tmp_path / "eval.json"
    res = run_tool(
        "eval_cls.py",
        "--data",
        str(cls_data / "val"),
        "--ckpt",
        *ckpts,
        "--crops",
        "10",
        "--table3",
        "--json",
        str(out),
        "--device",
        "cpu",
        "--workers",
        "0",
    )
    assert res.returncode == 0, res.stderr
    rep = json.loads(out.read_text())
    assert rep["images"] == 30 and rep["crops"] == 10 and rep["models"] == ["final.pth", "final.pth"]
    assert [(r["models"], r["crops"]) for r in rep["table3"]] == [("1", 1), ("1", 10), ("2", 1), ("2", 10)]
    assert rep["table3"][-1]["top1_error"] == rep["top1_error"]  # the ensemble row is the headline
    assert all(0 <= r["top1_error"] <= 1 and r["top5_error"] <= r["top1_error"] for r in rep["table3"])
    wrong = run_tool("eval_cls.py", "--data", str(tmp_path / "a"), "--ckpt", ckpts[0], "--device", "cpu")
    assert wrong.returncode == 2 and "error:" in wrong.stderr
