"""``tools/benchmark.py realdata``: our detector against torchvision's Faster R-CNN on a real
VOC-format dataset, each trained for the same time on the same images and scored by the same
evaluation on the same kind of results file.

Systems (``--systems``, default all):

- ``ours-rcnn``, ``ours-fast``: ``configs/voc_custom.yaml`` in either mode (``fast`` with
  ``sampling.bg_iou_low: 0.1``, Fast R-CNN's negatives, and ``reg_weight: 3``, as docs/TOOLS.md's
  BCCD command), started
  from the demo classifier (``outputs/demo/cls/final.pth``, when it exists) and from scratch;
- ``fasterrcnn_mobilenet_v3_large_fpn``, ``fasterrcnn_resnet50_fpn``: torchvision's models,
  from scratch (no weights can be downloaded here), trained by :mod:`.peers`;
- ``fasterrcnn_googlenet``: torchvision's ``FasterRCNN`` on our GoogLeNet trunk (:mod:`.peers`),
  from the same starts as ours (the demo classifier, scratch): the fair peer of each of our rows.

Ours use selective search (``proposals.method=ss``) whatever the config says, as the rows
measured before the config's MultiBox default did.

Each runs in a process of its own (:mod:`.realdata_run`), waited for at most three times its
budget plus 30 minutes; one that fails or runs over is reported as such and the others go on.
``--jobs N`` runs N systems at once, each limited to ``cores // N`` threads (``OMP_NUM_THREADS``
unless the caller set it), so that every system gets the same share of the machine.
Every system writes its test detections in the COCO results format, and each file is scored
here with our VOC (mAP@0.5, all points), ILSVRC and COCO (AP@[.5:.95], pycocotools) metrics.
``--subset N`` runs on the first ``N`` images of each split (a smoke test: its numbers mean
nothing, and the table says so).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..data import load_dataset
from ..eval import evaluate_detections, read_results
from ..files import write_text
from .peers import GOOGLENET_PEER, PEERS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bccd"
SYSTEMS = ("ours-rcnn", "ours-fast", *PEERS)
METRICS = {"voc": "VOC mAP@0.5", "ilsvrc": "ILSVRC mAP", "coco": "COCO AP"}


@dataclass
class Entry:
    name: str  # the row's name
    system: str  # realdata_run's --system
    init: str | None  # our backbone's starting weights; None: from scratch

    @property
    def starts(self) -> str:
        return "demo classifier" if self.init else "scratch"


def entries(systems: list[str], demo_cls: Path | None) -> tuple[list[Entry], list[str]]:
    """The rows to run, and notes on those left out."""
    rows, notes = [], []
    for s in systems:
        if s not in SYSTEMS:
            raise ValueError(f"unknown system {s!r}; expected some of {SYSTEMS}")
        if s in PEERS and s != GOOGLENET_PEER:
            rows.append(Entry(s, s, None))
            continue
        if demo_cls is not None and demo_cls.is_file():
            rows.append(Entry(f"{s} (demo cls)", s, str(demo_cls.resolve())))
        else:
            notes.append(f"{s} from the demo classifier left out: {demo_cls} not found (make demo writes it)")
        rows.append(Entry(f"{s} (scratch)", s, None))
    return rows, notes


def subset_root(data: Path, splits: list[str], n: int, out: Path) -> Path:
    """A VOC root under ``out`` whose ``splits`` list the first ``n`` images of ``data``'s
    (annotations and images linked, not copied)."""
    root = out / "subset"
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for sub in ("Annotations", "JPEGImages"):
        link = root / sub
        if not link.exists():
            link.symlink_to((data / sub).resolve(), target_is_directory=True)
    for split in splits:
        ids = (data / "ImageSets" / "Main" / f"{split}.txt").read_text().split()[:n]
        write_text(root / "ImageSets" / "Main" / f"{split}.txt", "\n".join(ids) + "\n")
    return root


def threads_per_job(jobs: int) -> int:
    """Threads each of ``jobs`` (>= 1) concurrent systems may use: ``OMP_NUM_THREADS`` when the
    caller set it, else an equal share of the cores (at least one)."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return int(os.environ["OMP_NUM_THREADS"])
    return max(1, (os.cpu_count() or 1) // jobs)


def _run_one(e: Entry, data: Path, args: dict, seconds: float, out: Path) -> dict:
    cmd = [sys.executable, "-m", "detector.benchmarks.realdata_run", "--system", e.system, "--data", str(data),
           "--train-split", args["train_split"], "--test-split", args["test_split"], "--seconds", str(seconds),
           "--out", str(out), "--config", str(args["config"]), "--device", args["device"]]  # fmt: skip
    if e.init:
        cmd += ["--init", e.init]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(args["threads"]), "MKL_NUM_THREADS": str(args["threads"])}
    with open(out / "log.txt", "w") as log:
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                  timeout=3 * seconds + 1800)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"error": f"ran past {3 * seconds + 1800:.0f} s and was stopped (log: {out / 'log.txt'})"}
    if proc.returncode != 0 or not (out / "run.json").is_file():
        tail = (out / "log.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        return {"error": f"exit status {proc.returncode}: {tail[0][:200]} (log: {out / 'log.txt'})"}
    res = json.loads((out / "run.json").read_text())
    res["wall_seconds"] = time.perf_counter() - t0
    return res


def _say(line: str) -> None:
    """One progress line in one write (print's separate newline interleaves between the pool's threads)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(data: Path | None = None, train_split: str = "train", test_split: str = "test", minutes: float = 20.0,
        device: str = "cpu", systems: list[str] | None = None, demo_cls: Path | None = None,
        config: Path | None = None, subset: int | None = None, out: Path | None = None, jobs: int = 1) -> dict:  # fmt: skip
    data, jobs = Path(data or DEFAULT_DATA), max(jobs, 1)
    if not (data / "ImageSets" / "Main").is_dir():
        raise FileNotFoundError(f"{data}: not a VOC-format dataset (no ImageSets/Main); give --data")
    out = Path(out or ROOT / "outputs" / "benchmarks" / "realdata")
    if subset:
        data = subset_root(data, [train_split, test_split], subset, out)
    demo_cls = Path(demo_cls) if demo_cls else ROOT / "outputs" / "demo" / "cls" / "final.pth"
    rows, notes = entries(list(systems or SYSTEMS), demo_cls)
    args = {"train_split": train_split, "test_split": test_split, "device": device,
            "config": Path(config or ROOT / "configs" / "voc_custom.yaml").resolve(),
            "threads": threads_per_job(jobs)}  # fmt: skip
    test = load_dataset(data, test_split)

    def one(e: Entry) -> dict:
        _say(f"realdata: {e.name}, {minutes:g} min from {e.starts} ...")
        run_dir = out / e.name.replace(" ", "_").replace("(", "").replace(")", "")
        res = {"name": e.name, "system": e.system, "starts_from": e.starts, "init": e.init, "dir": run_dir,
               **_run_one(e, data, args, minutes * 60, run_dir)}  # fmt: skip
        _say(f"realdata: {e.name}: {res.get('error') or 'done'}")
        return res

    # the pool's threads only wait on child processes; the table keeps the systems' order. Scoring
    # runs here, in this thread: pycocotools' printing is silenced by swapping sys.stdout, which
    # threads doing it at once would leave swapped
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, rows))
    for res in results:
        run_dir = res.pop("dir")
        if "error" not in res:
            dets = read_results(run_dir / "results.json")
            for metric in METRICS:
                res[metric] = evaluate_detections(test, dets, metric).report["mAP"]
            _say(f"realdata: {res['name']}: " + ", ".join(f"{m} {res[m]:.4f}" for m in METRICS))
    return {"data": str(data), "train_split": train_split, "test_split": test_split, "minutes": minutes,
            "device": device, "subset": subset, "test_images": len(test.records), "notes": notes,
            "jobs": jobs, "threads": args["threads"], "results": results}  # fmt: skip


def _num(v, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def format_table(res: dict) -> str:
    head = (f"{res['data']}: train on '{res['train_split']}' for {res['minutes']:g} min each, test on "
            f"'{res['test_split']}' ({res['test_images']} images), {res['device']}, "
            f"{res['jobs']} system(s) at a time with {res['threads']} thread(s) each")  # fmt: skip
    if res["subset"]:
        head += f"\nSUBSET of {res['subset']} images per split: a smoke test, not a measurement"
    cols = ["system", "starts from", *METRICS.values(), "train s", "s/img", "peak MB"]
    lines = [head, " | ".join(cols), " | ".join("-" * len(c) for c in cols)]
    for r in res["results"]:
        if "error" in r:
            lines.append(f"{r['name']} | {r['starts_from']} | failed: {r['error']}")
            continue
        mem = r.get("peak_cuda_mb") or r.get("peak_rss_mb")
        lines.append(" | ".join([r["name"], r["starts_from"], *(_num(r[m], ".4f") for m in METRICS),
                                 _num(r["train_seconds"], ".0f"), _num(r["infer_seconds_per_image"], ".3f"),
                                 _num(mem, ".0f")]))  # fmt: skip
    lines += [f"note: {n}" for n in res["notes"]]
    lines.append("train s: proposals + training (ours: also a 3-step timing); s/img: test images one at a time, "
                 "proposals included; peak MB: the process's peak RSS (CUDA: peak allocated)")  # fmt: skip
    return "\n".join(lines)
