"""The fault-injection suite: each tool killed at seeded random points, then run again (or
resumed), must end with the outputs of an uninterrupted run, and leave no process behind.

For each of make_demo_data, proposals, train_cls, train_multibox, train_det (one stage, and
its stages multibox, rcnn and test in one command) and eval_det:

- a reference run, uninterrupted, whose wall time ``T`` is measured;
- ``SIGKILL`` at ``POINTS`` moments drawn (``random.Random(SEED)``) from ``[0.1 T, 0.95 T]``
  after the start (start-up, data, proposals, training steps, validation, final writes alike),
  then the tool again (``--resume`` for trainers) until it exits 0; every process the killed one
  had started must be gone within 10 s;
- ``SIGTERM`` at the same moments: the tool must exit with 143 within 20 s (at
  once, at any stage; trainers checkpoint between steps), with no traceback, before the rerun
  (or end by the signal's default action while Python is still importing, before the tool runs).

The one-command form is also killed just after each stage's ``final.pth`` appears (between two
stages), then resumed.

Final outputs must equal the reference: bit-identical weights (``final.pth``, training is
deterministic on a fixed thread count), identical validation numbers, the same dataset bytes,
proposals and detections, an identical report.

Marked ``faults`` (about 12 minutes on 2 cores): ``make test-faults`` runs it, CI too; ``make
test`` leaves it out. ``FAULT_POINTS=N`` changes the number of points per signal.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.faults.helpers import children, wait_gone
from tests.helpers import ROOT

pytestmark = [pytest.mark.faults, pytest.mark.slow]
SEED = 20261204
POINTS = int(os.environ.get("FAULT_POINTS", "3"))  # moments per tool, each with SIGKILL and with SIGTERM
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}


@dataclass
class Tool:
    name: str  # tools/<name>.py
    args: list[str]  # its arguments; "{out}" in them is the run's folder (trainers pass --resume
    # every time: a first run starts anew, a later one continues)

    def command(self, out: Path) -> list[str]:
        return [sys.executable, str(ROOT / "tools" / f"{self.name}.py"), *(a.format(out=out) for a in self.args)]


def _run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, (cmd, res.stdout[-1500:], res.stderr[-3000:])
    return res


def _interrupt(cmd: list[str], at: float | Path, sig: int) -> tuple[int | None, str, list[int]]:
    """Start ``cmd``, send ``sig`` ``at`` seconds later, or as soon as the file ``at`` exists (a
    stage's last file: between two stages; at most 600 s), unless it ended before; returns its exit
    status (None: it ended before the signal), stderr, and the processes it had started."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t_end = time.monotonic() + (600 if isinstance(at, Path) else at)
    kids: set[int] = set()
    while time.monotonic() < t_end and proc.poll() is None and not (isinstance(at, Path) and at.exists()):
        kids |= set(children(proc.pid))
        time.sleep(0.05)
    if proc.poll() is not None:
        return None, proc.communicate()[1], []
    kids |= set(children(proc.pid))
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=20 if sig == signal.SIGTERM else 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"{cmd[1]} still running 20 s after {signal.Signals(sig).name}; stderr: {err[-2000:]}")
    return proc.returncode, err, sorted(kids)


def _points(n: int, tool: str) -> list[float]:
    rng = random.Random(f"{SEED}-{tool}")
    return sorted(rng.uniform(0.1, 0.95) for _ in range(n))


def check_tool(tool: Tool, reference: Path, tmp_path: Path, outputs, prepare=None):
    """Interrupt ``tool`` at every point, finish it, compare ``outputs(folder)`` with the
    reference's. ``prepare(out)`` readies a fresh folder (inputs a run reads from it)."""
    want = outputs(reference)
    duration = REFERENCE_SECONDS[tool.name]
    report = []
    for sig in (signal.SIGKILL, signal.SIGTERM):  # the same moments for both
        for k, frac in enumerate(_points(POINTS, tool.name)):
            out = tmp_path / f"{signal.Signals(sig).name}_{k}"
            if prepare is not None:
                prepare(out)
            code, err, kids = _interrupt(tool.command(out), frac * duration, sig)
            report.append((signal.Signals(sig).name, round(frac * duration, 1), code))
            assert not wait_gone(kids, 10), f"processes left behind after {signal.Signals(sig).name}"
            if code is not None and sig == signal.SIGTERM:
                # 143: the tool's handler; -15: the signal's default action, before the tool started
                # (Python still importing): 128 + 15 = 143 to a shell alike, and nothing to save yet
                assert code in (143, -signal.SIGTERM), (code, err[-2000:])
                assert "Traceback" not in err, err[-3000:]
            _run(tool.command(out))
            got = outputs(out)
            assert got.keys() == want.keys(), (sorted(got), sorted(want))
            for key in want:
                _assert_same(got[key], want[key], f"{tool.name} {signal.Signals(sig).name} at {frac:.2f}: {key}")
    print(f"{tool.name}: interrupted at (signal, s, exit status) {report} of a {duration:.1f} s run")


def _assert_same(got, want, what: str):
    if isinstance(want, torch.Tensor):
        assert torch.equal(got, want), what
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        assert got == want, what


REFERENCE_SECONDS: dict[str, float] = {}


def _reference(tool: Tool, out: Path) -> Path:
    t0 = time.monotonic()
    _run(tool.command(out))
    REFERENCE_SECONDS[tool.name] = time.monotonic() - t0
    return out


# --- the tools and what they must end with -------------------------------------------------------
DEMO = Tool("make_demo_data", ["--out", "{out}", "--size", "tiny", "--opts", "det_train=400", "det_val=60",
                               "cls_train_per_class=30", "workers=2"])  # fmt: skip


def demo_outputs(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    return {"manifest": manifest, "files": files}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A small demo dataset every other tool reads (its own uninterrupted run)."""
    root = tmp_path_factory.mktemp("data") / "demo"
    _run([*DEMO.command(root), "det_train=12", "det_val=6", "cls_train_per_class=8", "workers=1"])  # later wins
    return root


def test_make_demo_data(tmp_path):
    check_tool(DEMO, _reference(DEMO, tmp_path / "ref"), tmp_path, demo_outputs)


def _proposals_tool(data: Path) -> Tool:
    return Tool("proposals", ["--data", str(data / "det"), "--split", "train", "--out", "{out}", "--workers", "2",
                              "--mode", "fast"])  # fmt: skip


def proposal_outputs(out: Path) -> dict:
    """Every image's proposals, as sets of boxes (selective search's rank order can differ
    between runs: OpenCV's C rand() is shared with other threads)."""
    boxes = {}
    for p in sorted((out / "boxes").glob("*.npz")):
        with np.load(p) as z:
            b = z["boxes"]
        boxes[p.stem] = b[np.lexsort(b.T[::-1])]
    return {"boxes": boxes.keys(), **{f"boxes/{k}": v for k, v in boxes.items()}}


def test_proposals(data, tmp_path):
    tool = _proposals_tool(data)
    check_tool(tool, _reference(tool, tmp_path / "ref"), tmp_path, proposal_outputs)


def weights_and_validation(out: Path) -> dict:
    final = torch.load(out / "final.pth", weights_only=True)
    vals = [r for r in (json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "val"]
    train = [
        (r["step"], r["loss"])
        for r in (json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines())
        if r["kind"] == "train"
    ]
    numbers = [{k: v for k, v in r.items() if k not in ("img_per_s", "seconds")} for r in vals]
    return {**{f"model.{k}": v for k, v in final["model"].items()}, "val": numbers, "train": train,
            "step": final["step"]}  # fmt: skip


CLS_OPTS = ["data.input_size=32", "data.resize=36", "data.workers=0", "data.augment.enabled=false",
            "optim.batch_size=10", "optim.epochs=4", "optim.ema_decay=0.9", "log_every=1", "device=cpu"]  # fmt: skip


def test_train_cls(data, tmp_path):
    tool = Tool("train_cls", ["--config", str(ROOT / "configs" / "demo_cls.yaml"), "--data", str(data / "cls"),
                              "--out", "{out}", "--resume", "--opts", *CLS_OPTS])  # fmt: skip
    check_tool(tool, _reference(tool, tmp_path / "ref"), tmp_path, weights_and_validation)


MB_OPTS = ["num_priors=2", "data.input_size=64", "optim.batch_size=4", "optim.epochs=3", "optim.ema_decay=0.8",
           "data.workers=0", "device=cpu", "log_every=1"]  # fmt: skip


def test_train_multibox(data, tmp_path):
    tool = Tool("train_multibox", ["--config", str(ROOT / "configs" / "demo_multibox.yaml"), "--data", str(data / "det"),
                                   "--out", "{out}", "--resume", "--opts", *MB_OPTS])  # fmt: skip
    check_tool(tool, _reference(tool, tmp_path / "ref"), tmp_path, weights_and_validation)


DET_OPTS = ["proposals.method=ss", "proposals.workers=2", "head.input_size=32", "head.context=2",
            "head.image_size=96", "head.roi_size=2", "optim.batch_size=4", "optim.lr=0.002", "optim.epochs=2",
            "optim.ema_decay=0.9", "sampling.regions_per_batch=32", "log_every=1", "device=cpu", "amp=false",
            "data.workers=0"]  # fmt: skip


def _det_tool(data: Path) -> Tool:
    return Tool("train_det", ["--config", str(ROOT / "configs" / "demo_det.yaml"), "--data", str(data / "det"),
                              "--train-split", "train", "--val-split", "val", "--out", "{out}", "--resume",
                              "--opts", *DET_OPTS])  # fmt: skip


def test_train_det(data, tmp_path):
    tool = _det_tool(data)
    check_tool(tool, _reference(tool, tmp_path / "ref"), tmp_path, weights_and_validation)


def eval_outputs(out: Path) -> dict:
    dets = json.loads((out / "detections.json").read_text())
    report = json.loads((out / "report.json").read_text())
    return {"detections": dets, "report": {k: v for k, v in report.items() if k != "seconds"}}


def test_eval_det(data, tmp_path):
    det = tmp_path / "det"
    _run(_det_tool(data).command(det))
    tool = Tool("eval_det", ["--gt", str(data / "det"), "--split", "val", "--metric", "voc", "--ckpt",
                             str(det / "final.pth"), "--proposals", "{out}/proposals", "--save-dets",
                             "{out}/detections.json", "--out", "{out}/report.json", "--device", "cpu"])  # fmt: skip
    check_tool(tool, _reference(tool, tmp_path / "ref"), tmp_path, eval_outputs)


def pipeline_outputs(out: Path) -> dict:
    """The one-command form's ends: both networks' weights and numbers, the test report."""
    rcnn, mb = weights_and_validation(out / "rcnn"), weights_and_validation(out / "multibox")
    report = json.loads((out / "test" / "report.json").read_text())
    return {**{f"rcnn.{k}": v for k, v in rcnn.items()}, **{f"multibox.{k}": v for k, v in mb.items()},
            "test": report, "page": (out / "test" / "analysis" / "index.html").is_file()}  # fmt: skip


def test_train_det_pipeline(data, tmp_path):
    """train_det's stages (multibox, rcnn, test) killed inside and between them, then resumed:
    the done stages are skipped and the rest must end as an uninterrupted run does."""
    opts = [*DET_OPTS, "proposals.method=multibox", "proposals.multibox_ckpt=null",
            f"pipeline.multibox_config={ROOT / 'configs' / 'demo_multibox.yaml'}",
            *(f"multibox.{o}" for o in MB_OPTS)]  # fmt: skip
    tool = Tool("train_det", ["--config", str(ROOT / "configs" / "demo_det.yaml"), "--data", str(data / "det"),
                              "--test-split", "val", "--out", "{out}", "--resume", "--opts", *opts])  # fmt: skip
    ref = _reference(tool, tmp_path / "ref")
    check_tool(tool, ref, tmp_path, pipeline_outputs)
    want = pipeline_outputs(ref)
    for stage in ("multibox", "rcnn"):  # killed just after a stage's final.pth, before the next starts
        out = tmp_path / f"after_{stage}"
        code, _, kids = _interrupt(tool.command(out), out / stage / "final.pth", signal.SIGKILL)
        assert code == -signal.SIGKILL and (out / stage / "final.pth").is_file()
        assert not wait_gone(kids, 10), f"processes left behind after the kill after {stage}"
        _run(tool.command(out))
        got = pipeline_outputs(out)
        assert got.keys() == want.keys()
        for key in want:
            _assert_same(got[key], want[key], f"killed after {stage}: {key}")
