"""One system of ``tools/benchmark.py realdata``, run in a process of its own (so that its peak
memory is its own): train on the training split within a time budget, detect the test split,
write ``results.json`` (COCO results format) and ``run.json`` (times, memory, how it started).

    python -m detector.benchmarks.realdata_run --system ours-fast --data ROOT --train-split train
        --test-split test --seconds 1200 --out DIR --config configs/voc_custom.yaml [--init CKPT]

Our detector's budget covers its training proposals, a 3-step measurement of a step's cost and
its training; the number of epochs is the count that comes nearest to the rest of the budget (at
least one, so a budget under an epoch runs over), with the config's cosine schedule over them, no
validation. Its inference time counts computing the test images' proposals (the config's method
and workers) and scoring them.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..api import Detector
from ..config import load_config
from ..data import load_dataset
from ..engine.distributed import DistContext, resolve_device
from ..engine.loop import train_step, training_kit
from ..eval.results import arrays_to_results, write_results
from ..files import write_json
from ..rcnn.config import DetTrainConfig
from ..rcnn.proposals import ensure_proposals
from ..rcnn.train import check_config, detection_task, train_detector
from .peers import PEERS, PeerConfig, build_peer, detect_peer, train_peer
from .timing import sync

OURS = {  # each system's overrides of the config: fast as docs/TOOLS.md's BCCD command (Fast R-CNN's
    # negatives, three times the box loss; its 12 epochs are the budget's business here)
    "ours-rcnn": ["head.mode=rcnn", "proposals.method=ss"],
    "ours-fast": ["head.mode=fast", "sampling.bg_iou_low=0.1", "reg_weight=3", "proposals.method=ss"],
}


def step_seconds(cfg: DetTrainConfig, train, cache, ctx: DistContext, steps: int = 3) -> float:
    """Median seconds of a training step of the detector ``cfg`` describes (loading, then the
    engine's :func:`~detector.engine.loop.train_step`: forward, backward, update, schedule, EMA),
    after one untimed step; the model is thrown away."""
    task = detection_task(cfg, train, train, cache, cache, ctx)
    kit = training_kit(task.model, cfg, ctx.device)
    kit.model.train()
    loader = iter(DataLoader(task.train_ds, batch_size=cfg.optim.batch_size, shuffle=True, collate_fn=task.collate))
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        try:
            batch = next(loader)
        except StopIteration:
            break
        train_step(kit.model, kit, task.loss, batch, cfg, ctx)
        sync(ctx.device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:] or times)


def run_ours(args, device: torch.device) -> dict:
    opts = [*OURS[args.system], f"init={args.init or 'null'}", "eval_every=0", f"device={device.type}"]
    cfg = load_config(DetTrainConfig, args.config, opts)
    out = Path(args.out)
    check_config(cfg)  # config errors before any work
    train = load_dataset(args.data, args.train_split, check_images=True)
    ctx = DistContext(0, 1, 0, device)
    t0 = time.perf_counter()
    cache = ensure_proposals(train, out / "proposals", cfg.proposals, ctx)
    proposal_s = time.perf_counter() - t0
    step_s = step_seconds(cfg, train, cache, ctx)
    steps_per_epoch = max(1, len(train.records) // cfg.optim.batch_size)
    left = args.seconds - (time.perf_counter() - t0)
    cfg.optim.epochs = max(1, round(left / (steps_per_epoch * step_s)))  # off by half an epoch at most
    torch.manual_seed(cfg.seed)
    train_detector(cfg, args.data, args.train_split, None, out, proposals=str(out / "proposals"))
    train_s = time.perf_counter() - t0
    test = load_dataset(args.data, args.test_split)
    det = Detector.load(out / "final.pth", device)
    t1 = time.perf_counter()
    split = det.detect_split(test, out / "test_proposals", progress=True)
    infer_s = (time.perf_counter() - t1) / max(len(test.records), 1)
    write_results(out / "results.json", split.results)
    return {"train_seconds": train_s, "proposal_seconds": proposal_s, "step_seconds": step_s,
            "epochs": cfg.optim.epochs, "steps": cfg.optim.epochs * steps_per_epoch,
            "infer_seconds_per_image": infer_s, "failed": split.failed}  # fmt: skip


def run_peer(args, device: torch.device) -> dict:
    cfg = PeerConfig()
    train = load_dataset(args.data, args.train_split, check_images=True)
    model_cfg = load_config(DetTrainConfig, args.config).model if args.config else None
    model = build_peer(args.system, len(train.class_names), cfg, model_cfg, args.init)
    info = train_peer(model, train, args.seconds, device, cfg)
    test = load_dataset(args.data, args.test_split)
    arrays, failed, infer_s = detect_peer(model, test, device)
    write_results(Path(args.out) / "results.json", arrays_to_results(test, arrays))
    return {"train_seconds": info["seconds"], "steps": info["steps"], "images_seen": info["images"],
            "nonfinite_steps": info["nonfinite"], "infer_seconds_per_image": infer_s, "failed": failed}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", required=True, choices=(*OURS, *PEERS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--train-split", required=True)
    ap.add_argument("--test-split", required=True)
    ap.add_argument("--seconds", type=float, required=True, help="training budget")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", help="our detector's config (ours-* systems)")
    ap.add_argument(
        "--init", help="our backbone's starting weights (ours-* and fasterrcnn_googlenet; default: scratch)"
    )
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    res = run_ours(args, device) if args.system in OURS else run_peer(args, device)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    write_json(Path(args.out) / "run.json", res)
    return 0


if __name__ == "__main__":
    from ..cli import run_tool

    raise SystemExit(run_tool(main))
