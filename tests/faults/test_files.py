"""One rule for files: outputs written whole or not at all (temporary file, fsync, rename), a
full disk ending in one line with nothing torn, unreadable cache entries computed again, torn
JSON-lines records read as absent, a demo manifest that only ever describes a complete dataset,
and truncated JPEGs decoded as far as they go."""

import errno
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from detector import files
from detector.checkpoint import save_checkpoint
from detector.cli import run_tool
from detector.data import load_dataset
from detector.data.images import read_image
from detector.demo_data import writer
from detector.demo_data.writer import DemoDataConfig, make_demo_data, read_manifest
from detector.engine.distributed import DistContext
from detector.engine.metrics import MetricsLog, read_metrics
from detector.files import WriteError, append_line, read_json_lines, remove_stale_temporaries, write_json
from detector.proposals.cache import ProposalCache
from detector.rcnn.config import ProposalConfig
from detector.rcnn.proposals import ensure_proposals
from tests.detector.data.builders import write_voc
from tests.helpers import ROOT

TINY = {"cls_train_per_class": 2, "cls_val_per_class": 1, "det_train": 4, "det_val": 2, "workers": 1}


def test_write_json_is_strict_and_atomic(tmp_path):
    path = write_json(tmp_path / "r.json", {"mAP": float("nan"), "per_class": [1.0, float("inf")]})
    assert json.loads(path.read_text()) == {"mAP": None, "per_class": [1.0, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_and_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = write_json(tmp_path / "report.json", {"mAP": 0.5})
    monkeypatch.setattr(files, "fsync_file", _enospc)  # the data does not fit at the flush
    with pytest.raises(WriteError, match=r"report.json: cannot write: No space left on device"):
        write_json(path, {"mAP": 0.7})
    assert json.loads(path.read_text()) == {"mAP": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]

    def main(_):
        save_checkpoint(tmp_path / "last.pth", {"w": torch.ones(3)}, {"a": 1})

    code = run_tool(main, [])  # through a tool: exit status 2, one line
    assert code == 2 and not (tmp_path / "last.pth").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_full_disk_through_a_tool_on_a_small_tmpfs(tmp_path, capfd):
    """A real ENOSPC where the machine lets us mount a 1 MiB tmpfs (root); skipped elsewhere."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or os.system(f"mount -t tmpfs -o size=1m tmpfs {mnt} 2>/dev/null") != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:

        def main(_):
            save_checkpoint(mnt / "last.pth", {"w": torch.ones(1_000_000)}, {"a": 1})  # 4 MB

        assert run_tool(main, []) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert err == [f"error: {mnt / 'last.pth'}: cannot write: No space left on device"], err
        assert list(mnt.iterdir()) == []  # nothing torn, no temporary file
    finally:
        os.system(f"umount {mnt}")


def test_torn_and_empty_cache_entries_are_computed_again(tmp_path):
    """Item 5: they raised BadZipFile / EOFError out of training and evaluation."""
    cache = ProposalCache(tmp_path / "cache")
    for i in range(3):
        cache.put(f"im{i}", np.array([[1, 2, 30, 40]], np.float32))
    (tmp_path / "cache" / "boxes" / "im0.npz").write_bytes(b"")  # a power cut before the data
    whole = (tmp_path / "cache" / "boxes" / "im1.npz").read_bytes()
    (tmp_path / "cache" / "boxes" / "im1.npz").write_bytes(whole[: len(whole) // 2])
    assert not cache.has("im0") and not cache.has("im1") and cache.has("im2")
    assert cache.find("im1") is None and cache.unreadable == {"im0.npz", "im1.npz"}
    cache.put("im1", np.array([[0, 0, 5, 5]], np.float32))  # computed again
    assert cache.has("im1") and cache.unreadable == {"im0.npz", "im1.npz"}  # those seen, for the log


def test_ensure_proposals_recomputes_unreadable_entries(tmp_path, capsys):
    write_voc(tmp_path / "voc", "val", {f"im{i}": (64, 48, [("cat", 5, 5, 30, 30, 0)]) for i in range(3)})
    ds = load_dataset(str(tmp_path / "voc"), "val")
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    cache = ensure_proposals(ds, tmp_path / "cache", ProposalConfig(workers=1), ctx)
    want = cache.find("im1")
    (tmp_path / "cache" / "boxes" / "im1.npz").write_bytes(b"PK\x03\x04 torn")
    again = ensure_proposals(ds, tmp_path / "cache", ProposalConfig(workers=1), ctx)
    out = capsys.readouterr().out
    assert "computing ss for 1 of 3 images" in out and "1 unreadable cache entries computed again (e.g. im1.npz)" in out
    np.testing.assert_array_equal(again.find("im1"), want)


def test_a_torn_last_metrics_line_is_absent_and_resume_rewrites_atomically(tmp_path, monkeypatch):
    """Item 6: --resume died with JSONDecodeError, and the rewrite in place could lose the history."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (1, 2, 3):
        log.write("train", step=step, loss=1.0 / step)
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"kind": "train", "step": 4, "lo')  # killed mid-write
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    log.write("train", step=4, loss=0.25)  # an append after a torn line starts on its own line
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]
    calls = []
    real = files.atomic_path

    def spy(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(files, "atomic_path", spy)
    log.truncate_after(3, drop_val_at_step=False)
    log.truncate_after(2)
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2]
    assert calls == [tmp_path / "metrics.jsonl"] * 2  # rewritten through a temporary file, not in place


def test_append_line_and_read_json_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    append_line(p, '{"a": 1}')
    p.write_bytes(p.read_bytes() + b'{"a": 2')
    append_line(p, '{"a": 3}')
    assert read_json_lines(p) == [{"a": 1}, {"a": 3}]
    assert read_json_lines(tmp_path / "missing.jsonl") == []


def test_demo_manifest_is_removed_before_a_regeneration(tmp_path, monkeypatch):
    """Item 4: an interrupted regeneration with another seed left the old manifest, and a rerun
    reused a mix of both seeds."""
    out = tmp_path / "demo"
    first = make_demo_data(out, DemoDataConfig(seed=0, **TINY), progress=False)
    assert read_manifest(out) == first
    calls = []
    real = writer.write_bytes

    def dies_after_3(path, data, durable=True):
        calls.append(path)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(path, data, durable)

    monkeypatch.setattr(writer, "write_bytes", dies_after_3)
    with pytest.raises(KeyboardInterrupt):
        make_demo_data(out, DemoDataConfig(seed=1, **TINY), progress=False)
    assert read_manifest(out) is None  # nothing says the mixed folder is a dataset
    monkeypatch.setattr(writer, "write_bytes", real)
    again = make_demo_data(out, DemoDataConfig(seed=1, **TINY), progress=False)
    clean = make_demo_data(tmp_path / "clean", DemoDataConfig(seed=1, **TINY), progress=False)
    assert again == clean and read_manifest(out) == clean


def test_a_torn_manifest_is_no_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text('{"config": {"seed"')
    assert read_manifest(tmp_path) is None


def test_a_truncated_jpeg_is_decoded_with_a_warning(tmp_path, caplog):
    """Item 19: cv2.imdecode refused a JPEG missing its last bytes (a cut download), so the image
    was skipped and its objects counted as misses; OpenCV's imread and PIL decode it."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3)
    ok, data = cv2.imencode(".jpg", img)
    data = data.tobytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 3 // 4])
    with caplog.at_level("WARNING", logger="detector.data"):
        got = read_image(path)
    assert got.shape == (120, 160, 3)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: truncated or damaged image file, decoded what it holds"
    ]
    full = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    # the decoded top rows are the image's own (the missing tail is filled in below them)
    assert np.abs(got[:40].astype(int) - full[:40].astype(int)).mean() < 2


def test_package_code_writes_files_only_through_detector_files():
    """The rule for files, kept: every file the package writes goes through detector.files
    (temporary file, fsync, rename). Images and plots that nothing reads back (cv2.imwrite,
    savefig) and a subprocess's streamed log are the exceptions."""
    pattern = re.compile(r"\.write_text\(|\.write_bytes\(|json\.dump\(|np\.save\(|open\([^)]*[\"'][wa]b?[\"']")
    allowed = {("detector/benchmarks/realdata.py", 'with open(out / "log.txt", "w") as log:')}
    hits = [
        (str(path.relative_to(ROOT)), line.strip())
        for pkg in ("detector", "backbones")
        for path in sorted((ROOT / pkg).rglob("*.py"))
        if path.name != "files.py"
        for line in path.read_text().splitlines()
        if pattern.search(line) and not line.lstrip().startswith(("#", '"', "'"))
    ]
    assert [h for h in hits if h not in allowed] == []


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # that process has exited
    (tmp_path / "a" / "b").mkdir(parents=True)
    stale = [tmp_path / f".x.jpg.{dead_pid}.tmp", tmp_path / "a" / "b" / f".y.npz.{dead_pid}.tmp.npz"]
    live = tmp_path / "a" / f".z.json.{os.getpid()}.tmp"
    other = [tmp_path / "a" / "notes.tmp", tmp_path / "a" / "b" / "kept.jpg"]
    for p in [*stale, live, *other]:
        p.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path) == 2
    assert not any(p.exists() for p in stale) and live.exists() and all(p.exists() for p in other)
