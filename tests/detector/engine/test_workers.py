"""The bounded worker pool: results as they complete, retries, timeouts, dead workers; and the
selective-search stress test (hundreds of calls over 2 spawned workers, under a timeout)."""

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from detector.data.records import ImageRecord
from detector.engine.loop import make_loader
from detector.engine.workers import LOADER_TIMEOUT, run_tasks
from detector.proposals.extract import selective_search_records
from detector.proposals.selective_search import SelectiveSearchConfig
from tests.helpers import ROOT, deadline, worker_task


def _by_index(outcomes):
    return {o.index: o for o in outcomes}


@pytest.mark.parametrize("workers", [1, 2])
def test_results_errors_and_order(workers):
    tasks = [("ok", i) for i in range(20)] + [("raise", 7)]
    out = _by_index(run_tasks(worker_task, tasks, workers, timeout=60))
    assert sorted(out) == list(range(21))
    assert [out[i].value for i in range(20)] == [2 * i for i in range(20)]
    assert out[20].value is None and out[20].error.startswith("ValueError: bad task 7")


@pytest.mark.slow
def test_dead_and_hung_workers_are_replaced_retried_then_reported(tmp_path):
    tasks = [("ok", 1), ("die", 0), ("hang", 0), ("die_once", str(tmp_path / "marker")), ("ok", 2)]
    t0 = time.monotonic()
    with deadline(60):
        out = _by_index(run_tasks(worker_task, tasks, 2, timeout=3, retries=1))
    elapsed = time.monotonic() - t0
    assert out[0].value == 2 and out[4].value == 4
    assert out[1].value is None and "died (exit code 3)" in out[1].error and out[1].attempts == 2
    assert out[2].value is None and "timed out after 3 s" in out[2].error and out[2].attempts == 2
    assert out[3].value == "second try" and out[3].error is None and out[3].attempts == 2
    assert elapsed < 30  # two 3 s deadlines, not the 600 s the hung task sleeps


def _images(tmp_path, n):
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        h, w = rng.integers(16, 48, 2)
        img = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (5, 5), 2)
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), img)
        records.append(ImageRecord(i, path, int(w), int(h), **ImageRecord.empty_arrays()))
    return records


@pytest.mark.slow
def test_stress_500_selective_search_calls_over_2_workers(tmp_path):
    """500 calls (50 images, 10 times each) finish, none fails, and every call returns exactly
    the boxes, in the order, that a freshly started interpreter gets for the same image (the
    module's promise). The reference comes from a new process, not this one: C's ``rand()``,
    which orders OpenCV's boxes, is shared by every thread here, and threads that earlier tests
    left behind may draw from it."""
    records = _images(tmp_path, 50)
    cfg = SelectiveSearchConfig(resize_width=None)
    code = (
        "import sys, cv2, numpy as np; from detector.proposals.selective_search import SelectiveSearchConfig, "
        f"selective_search as ss; cfg = {cfg!r}; files = sys.argv[2:]; "
        "np.savez(sys.argv[1], *[ss(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB), cfg) for f in files])"
    )
    out = tmp_path / "expected.npz"
    subprocess.run([sys.executable, "-c", code, str(out), *[str(r.file) for r in records]], check=True, cwd=ROOT,
                   timeout=120)  # fmt: skip
    with np.load(out) as z:
        expected = {r.image_id: z[f"arr_{k}"] for k, r in enumerate(records)}
    seen = 0
    with deadline(180):
        for r, found, why in selective_search_records(records * 10, cfg, workers=2, progress=False, timeout=60):
            assert why is None
            boxes, seconds = found
            np.testing.assert_array_equal(boxes, expected[r.image_id])
            assert 0 < seconds < 60
            seen += 1
    assert seen == 500


def test_data_loader_workers_are_spawned_with_a_bounded_wait():
    """torch's DataLoader forks its workers by default on Linux: ours spawn them (this process
    runs torch's threads) and wait at most LOADER_TIMEOUT for a batch; no workers, no processes."""
    data = list(range(6))
    loader = make_loader(data, 2, None, workers=1, seed=0, cuda=False, drop_last=False, collate=list)
    assert loader.multiprocessing_context.get_start_method() == "spawn" and loader.timeout == LOADER_TIMEOUT
    assert sorted(x for batch in loader for x in batch) == data  # the spawned worker really loads
    inline = make_loader(data, 2, None, workers=0, seed=0, cuda=False, drop_last=False, collate=list)
    assert inline.multiprocessing_context is None and inline.timeout == 0
