"""The spread of the learning tests' numbers over seeds, thread counts and MKL_CBWR branches: the
measurement their bars are set from (each test's comment quotes it).

    python -m tests.spread [--seeds 0 1 2] [--threads 1 2] [--branches ...] [--out outputs/spread.json]

Each ``(branch, threads)`` setting runs in its own process (MKL reads MKL_CBWR once, torch its
thread count at start), which trains every learning test's run once per seed and prints one JSON
line per run. The parent prints min / median / max of each number and writes all runs to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.numerics import ROOT, setting_env, settings

TAG = "SPREAD "


def _ratio(losses: list[float]) -> float:
    return (sum(losses[-4:]) / 4) / (sum(losses[:4]) / 4)


def measure(seed: int, root: Path) -> list[dict]:
    """Every learning run once with ``seed``: ``[{"test", "metric", "value"}]``."""
    from tests.detector.proposals.test_multibox import train_multibox_overfit
    from tests.detector.rcnn.conftest import train_trivial, write_trivial_voc
    from tests.tools.test_demo import run_tiny_demo

    rows = []
    mb = train_multibox_overfit(root / "mb", seed)
    rows += [("multibox", "final recall@0.5", mb["recalls"][-1]), ("multibox", "first recall@0.5", mb["recalls"][0]),
             ("multibox", "loss ratio", _ratio(mb["losses"]))]  # fmt: skip
    voc = write_trivial_voc(root / "voc")
    for mode in ("rcnn", "fast"):
        _, losses, maps = train_trivial(voc, root / f"det_{mode}", mode, seed)
        rows += [(f"train_det {mode}", "final mAP@0.5", maps[-1]), (f"train_det {mode}", "loss ratio", _ratio(losses))]
    (root / "demo").mkdir()
    demo = run_tiny_demo(root / "demo", seed)
    assert demo.returncode == 0, demo.stderr[-2000:]
    summary = json.loads((root / "demo" / "demo" / "summary.json").read_text())
    det_rows = [json.loads(x) for x in (root / "demo" / "demo" / "det" / "metrics.jsonl").read_text().splitlines()]
    rows += [("demo (tiny)", "det mAP@0.5", summary["det_map50"]),
             ("demo (tiny)", "det loss ratio", _ratio([r["loss"] for r in det_rows if r["kind"] == "train"]))]  # fmt: skip
    return [{"test": t, "metric": m, "value": float(v)} for t, m, v in rows]


def _worker(seeds: list[int]) -> None:
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            for row in measure(seed, Path(tmp)):
                print(TAG + json.dumps({**row, "seed": seed}), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--branches", nargs="*", help="MKL_CBWR branches (default: every one this CPU supports)")
    ap.add_argument("--out", default="outputs/spread.json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.seeds)
        return 0
    runs = []
    for branch, threads in settings(args.threads, args.branches):
        start = time.monotonic()
        cmd = [sys.executable, "-m", "tests.spread", "--worker", "--seeds", *map(str, args.seeds)]
        res = subprocess.run(cmd, cwd=ROOT, env=setting_env(branch, threads), capture_output=True, text=True)
        if res.returncode != 0:
            print(f"MKL_CBWR={branch} threads={threads} failed:\n{res.stderr[-3000:]}")
            return 1
        got = [json.loads(x[len(TAG) :]) for x in res.stdout.splitlines() if x.startswith(TAG)]
        runs += [{**r, "branch": branch, "threads": threads} for r in got]
        print(f"MKL_CBWR={branch} threads={threads}: {len(got)} numbers ({time.monotonic() - start:.0f} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(runs, indent=1))
    print(f"{'test':<18} {'metric':<18} {'min':>6} {'median':>7} {'max':>6}  n")
    keys = dict.fromkeys((r["test"], r["metric"]) for r in runs)
    for test, metric in keys:
        v = [r["value"] for r in runs if (r["test"], r["metric"]) == (test, metric)]
        print(f"{test:<18} {metric:<18} {min(v):6.3f} {statistics.median(v):7.3f} {max(v):6.3f}  {len(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
