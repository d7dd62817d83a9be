"""``tools/benchmark.py train_cls``: training images/s of the full pipeline (decoding,
augmentation, DataLoader workers) against the same step on tensors already in memory.

Data: a demo classification set generated into a temporary folder; the config is
``configs/demo_cls.yaml`` (batch, input size, workers) unless overridden.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from ..classify.config import ClsTrainConfig
from ..classify.data import collate
from ..classify.train import classification_task
from ..config import load_config
from ..demo_data import DemoDataConfig, make_demo_data
from ..engine.distributed import DistContext
from ..engine.ema import ModelEMA
from ..engine.loop import TrainingKit, make_loader, train_step
from ..engine.optim import make_optimizer
from ..engine.sampler import ShardedSampler

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo_cls.yaml"


def run(steps: int = 25, workers: int | None = None, cache: bool | None = None, **_: object) -> dict:
    cfg = load_config(ClsTrainConfig, CONFIG)
    data = dataclasses.replace(
        cfg.data,
        workers=cfg.data.workers if workers is None else workers,
        cache=cfg.data.cache if cache is None else cache,
    )
    cfg = dataclasses.replace(cfg, data=data)
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    b = cfg.optim.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        per_class = (steps + 3) * b // 10 + 1
        make_demo_data(
            tmp,
            DemoDataConfig(cls_train_per_class=per_class, cls_val_per_class=1, det_train=0, det_val=0),
            progress=False,
        )
        task, cfg = classification_task(cfg, Path(tmp) / "cls", ctx)
        ds = task.train_ds

        def training_parts():
            torch.manual_seed(0)
            model = task.model.to(memory_format=torch.channels_last)
            opt = make_optimizer(model, cfg.optim)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
            scaler = torch.amp.GradScaler("cuda", enabled=False)
            return TrainingKit(model, ModelEMA(model, cfg.optim.ema_decay), opt, scaler, sched)

        def timed(kit, batches) -> float:
            for i, batch in enumerate(batches):
                if i == 3:
                    t0 = time.perf_counter()
                train_step(kit.model, kit, task.loss, batch, cfg, ctx)
            return steps * b / (time.perf_counter() - t0)

        fixed = collate([ds[i] for i in range(b)])  # in memory: one collated batch, reused
        mem_ips = timed(training_parts(), (fixed for _ in range(steps + 3)))
        loader = make_loader(ds, b, ShardedSampler(len(ds), drop_last=True), cfg.data.workers, 0, False, True, collate)
        it = iter(loader)
        pipe_ips = timed(training_parts(), (next(it) for _ in range(steps + 3)))  # the loader train_cls builds
    return {
        "benchmark": "train_cls",
        "batch": b,
        "input": cfg.data.input_size,
        "workers": cfg.data.workers,
        "cache": cfg.data.cache,
        "threads": torch.get_num_threads(),
        "in_memory_img_per_s": mem_ips,
        "pipeline_img_per_s": pipe_ips,
        "ratio": pipe_ips / mem_ips,
        "target_ratio": 0.85,
    }


def format_table(res: dict) -> str:
    return "\n".join(
        [
            f"train_cls benchmark: batch {res['batch']}, {res['input']}x{res['input']}, {res['workers']} loader worker(s), "
            f"cache {res['cache']}, {res['threads']} torch threads",
            f"  in-memory training step: {res['in_memory_img_per_s']:8.1f} img/s",
            f"  full pipeline:           {res['pipeline_img_per_s']:8.1f} img/s",
            f"  ratio {res['ratio']:.2f} (target >= {res['target_ratio']})",
        ]
    )
