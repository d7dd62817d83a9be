"""One rule for processes: no fork, every wait bounded (barriers included, naming the late rank),
work shared between ranks from the full list, workers that die with their parent, and SIGINT /
SIGTERM that end a tool at once with 130 / 143."""

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from torch.utils.data import DataLoader

from detector.cli import run_tool, worker_message
from detector.data.records import DatasetError
from detector.demo_data import writer
from detector.demo_data.writer import DemoDataConfig, make_demo_data
from detector.engine.workers import loader_processes, run_tasks
from tests.detector.data.builders import write_voc
from tests.faults.helpers import RaisingDataset, children, wait_gone
from tests.helpers import ROOT, deadline, free_port, worker_task

PACKAGES = ("backbones", "detector", "tools")


def test_no_fork_anywhere_in_the_package():
    """fork() of a process that runs torch's and OpenCV's threads can hang the child for ever."""
    pattern = re.compile(r"""get_context\(\s*["']fork|set_start_method\(\s*["']fork|os\.fork\(|forkserver""")
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for pkg in PACKAGES
        for path in (ROOT / pkg).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
    # and every multiprocessing context the package makes is spawn
    contexts = [
        line
        for pkg in PACKAGES
        for path in (ROOT / pkg).rglob("*.py")
        for line in path.read_text().splitlines()
        if "get_context(" in line or "multiprocessing_context" in line
    ]
    assert contexts and all("spawn" in line for line in contexts), contexts


def _ranks(mode: str, *args: str, env: dict | None = None, late: float = 0.0) -> list[subprocess.Popen]:
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        e = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
             "MASTER_PORT": port, "LATE": str(late), **(env or {})}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-m", "tests.faults.ranks", mode, *args], cwd=ROOT, env=e,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (7, 7), 3)
    cv2.rectangle(img, (10, 10), (40, 40), (200, 30, 30), -1)
    return img


@pytest.mark.faults  # multi-process and slow (8-16 s): make test-faults
@pytest.mark.slow
def test_late_rank_proposals_every_image_exactly_once(tmp_path):
    """Item 2: with each rank's own view of what is missing, a rank 4 s late took an overlapping
    share and two of 8 images never got proposals. Now shares come from the full list."""
    data = tmp_path / "voc"
    write_voc(data, "val", {f"im{i}": (80, 60, [("cat", 11, 11, 40, 40, 0)]) for i in range(8)})
    for i in range(8):
        cv2.imwrite(str(data / "JPEGImages" / f"im{i}.jpg"), _scene(i))
    out = tmp_path / "out"
    out.mkdir()
    procs = _ranks("proposals", str(data), str(out), late=4.0)
    results = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-1500:] for r in results]
    puts = [(out / f"puts_{r}.txt").read_text().split() for r in (0, 1)]
    assert sorted(puts[0] + puts[1]) == sorted(f"im{i}" for i in range(8)), puts  # each once, none missing
    assert {p.stem for p in (out / "cache" / "boxes").glob("*.npz")} == {f"im{i}" for i in range(8)}
    # a second run with every image cached: no rank computes, none waits at a barrier alone
    for r in (0, 1):
        (out / f"puts_{r}.txt").unlink()
    procs = _ranks("proposals", str(data), str(out))
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert not list(out.glob("puts_*.txt"))


@pytest.mark.faults  # multi-process and slow (8-16 s): make test-faults
@pytest.mark.slow
def test_barrier_timeout_names_the_rank_that_did_not_arrive():
    """Item 3: barriers waited for the process group's default (10 min on NCCL, 30 on gloo)."""
    procs = _ranks("barrier", env={"TIMEOUT": "3"})
    t0 = time.monotonic()
    try:
        _, err = procs[0].communicate(timeout=60)
    finally:
        procs[1].kill()
        procs[1].wait()
    assert time.monotonic() - t0 < 40
    assert procs[0].returncode == 2 and "Traceback" not in err, err[-2000:]
    assert "rank(s) 1 did not reach the test's barrier within 3 s" in err.strip().splitlines()[-1], err


def test_a_user_error_in_a_data_loader_worker_is_its_own_message():
    """Item 14: torch re-raises it as "Caught DatasetError in DataLoader worker process 0." with
    the worker's traceback; the tools now print the error's own line."""
    wrapped = DatasetError(
        "Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 3, in f\n    raise DatasetError(...)\n'
        "detector.data.records.DatasetError: /data/val.txt: image id '../x' leaves the dataset folder\n"
    )
    assert worker_message(wrapped) == "/data/val.txt: image id '../x' leaves the dataset folder"
    # ImageError takes two arguments, so torch falls back to a RuntimeError carrying the same text
    image = RuntimeError(str(wrapped).replace("DatasetError", "ImageError"))
    assert worker_message(image) == "/data/val.txt: image id '../x' leaves the dataset folder"
    assert worker_message(RuntimeError("Caught ZeroDivisionError in DataLoader worker process 0.\nOriginal "
                                       "Traceback\nZeroDivisionError: division by zero")) is None  # fmt: skip


@pytest.mark.slow
def test_a_data_loader_worker_user_error_through_a_tool(tmp_path):
    def main(_):
        loader = DataLoader(RaisingDataset(), batch_size=1, num_workers=1, **loader_processes(1))
        return len(list(loader))

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_tool(main, [])
    assert code == 2 and err.getvalue().strip() == "error: bad.xml: malformed XML: not well-formed", err.getvalue()


@pytest.mark.slow
def test_workers_die_with_their_parent_even_on_sigkill(tmp_path):
    """Item 7: a killed tool's selective-search workers were re-parented to PID 1 and ran on."""
    script = tmp_path / "parent.py"
    script.write_text(
        "from detector.engine.workers import run_tasks\nfrom tests.helpers import worker_task\n"
        "if __name__ == '__main__':\n    print('started', flush=True)\n"
        "    for o in run_tasks(worker_task, [('hang', 0)] * 2, 2, timeout=600):\n        pass\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert proc.stdout.readline().strip() == "started"
    with deadline(60):
        while len(children(proc.pid)) < 2:
            time.sleep(0.1)
    time.sleep(2)  # the workers are started and running their tasks
    workers = children(proc.pid)
    assert len(workers) >= 2  # two workers (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not wait_gone(workers, 10)


@pytest.mark.slow
def test_sigterm_during_selective_search_ends_the_tool_and_its_workers(tmp_path):
    """Item 7 through the tool: exit status 143 at once, no worker left, no traceback."""
    data = tmp_path / "voc"
    write_voc(data, "val", {f"im{i}": (400, 300, []) for i in range(40)})
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(data / "JPEGImages" / f"im{i}.jpg"), rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    cmd = [sys.executable, str(ROOT / "tools" / "proposals.py"), "--data", str(data), "--split", "val",
           "--out", str(tmp_path / "props"), "--workers", "2", "--mode", "quality"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with deadline(120):
        while len(children(proc.pid)) < 2:
            time.sleep(0.1)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err and "interrupted (SIGTERM)" in err, err[-2000:]
    assert not wait_gone(workers, 10)


def test_run_tasks_outcomes_unchanged_by_the_parent_death_signal(tmp_path):
    """The workers' new start (parent-death signal, SIGINT ignored) leaves their results alone."""
    with deadline(60):
        out = sorted(run_tasks(worker_task, [("ok", i) for i in range(6)], 2, timeout=30), key=lambda o: o.index)
    assert [o.value for o in out] == [0, 2, 4, 6, 8, 10]


@pytest.mark.faults  # multi-process and slow (8-16 s): make test-faults
def test_demo_writer_survives_a_killed_worker(tmp_path, monkeypatch):
    """Item 1: a fork pool froze at 1105/3094 images when one worker was killed. The writer now
    uses run_tasks: the dead worker's chunk is retried and the bytes are those of a clean run."""
    cfg = DemoDataConfig(cls_train_per_class=4, cls_val_per_class=2, det_train=20, det_val=6, workers=2)
    clean = make_demo_data(tmp_path / "clean", cfg, progress=False)
    marker = tmp_path / "killed"
    monkeypatch.setattr(writer, "_make_chunk", _dies_once)
    monkeypatch.setenv("DEMO_KILL_MARKER", str(marker))
    with deadline(120):
        again = make_demo_data(tmp_path / "again", cfg, progress=False)
    assert marker.is_file()  # a worker really died
    assert again == clean


def _dies_once(chunk):
    """A chunk whose worker process ends abruptly the first time (like a kill -9 of the worker)."""
    marker = Path(os.environ["DEMO_KILL_MARKER"])
    if chunk[0][0] == "det" and not marker.exists():
        marker.touch()
        os._exit(9)
    return [writer._make(t) for t in chunk]
