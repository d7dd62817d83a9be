"""Computing proposals for a whole split into a :class:`ProposalCache`.

Images are shared out twice: under ``torchrun`` rank ``r`` of ``W`` takes every ``W``-th image
(so a cluster shares the work), and on each machine a pool of forked worker processes runs
selective search. Images already in the cache are skipped (resume); unreadable images are
counted and reported, never fatal.
"""

from __future__ import annotations

from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.ops import nms
from tqdm import tqdm

from ..classify.data import read_rgb
from ..data.records import DetectionDataset
from ..engine.distributed import DistContext
from .cache import ProposalCache
from .multibox import decode
from .multibox_train import BoxImageDataset, load_multibox
from .selective_search import SelectiveSearchConfig, selective_search


def _ss_task(task: tuple) -> tuple:
    image_id, boxes = _ss_boxes_task(task)
    if boxes is None:
        return image_id, None
    ProposalCache(task[2]).put(image_id, boxes, source=task[1])
    return image_id, len(boxes)


def extract_selective_search(
    dataset: DetectionDataset,
    cache: ProposalCache,
    cfg: SelectiveSearchConfig,
    workers: int,
    ctx: DistContext,
    progress: bool = True,
) -> dict:
    """Fill ``cache`` with this rank's share of ``dataset``; returns counts for this rank."""
    cache.write_meta({"method": "ss", **asdict(cfg)})
    mine = dataset.records[ctx.rank :: ctx.world_size]
    todo = [(r.image_id, str(r.file), str(cache.root), cfg) for r in mine if not cache.has(r.image_id, r.file)]
    counts, unreadable = [], []
    pool = get_context("fork").Pool(workers) if workers > 1 else None
    try:
        results = pool.imap_unordered(_ss_task, todo) if pool else map(_ss_task, todo)
        for image_id, n in tqdm(
            results, total=len(todo), desc="selective search", disable=not (progress and ctx.is_main)
        ):
            if n is None:
                unreadable.append(image_id)
            else:
                counts.append(n)
    finally:
        if pool:
            pool.close()
            pool.join()
    return {
        "images": len(mine),
        "computed": len(counts),
        "reused": len(mine) - len(todo),
        "unreadable": unreadable,
        "boxes": sum(counts),
    }


def merge_proposals(first: np.ndarray, second: np.ndarray, dedup_iou: float = 0.95) -> np.ndarray:
    """``first`` then ``second`` (each ``[N, 4]``, rank order), dropping any box whose IoU with an
    earlier kept box reaches ``dedup_iou`` (exact duplicates included)."""
    boxes = torch.from_numpy(np.concatenate([first, second]).astype(np.float32))
    if not len(boxes):
        return boxes.numpy().reshape(0, 4)
    rank_score = torch.linspace(1.0, 0.0, len(boxes))
    keep = nms(boxes, rank_score, dedup_iou).sort().values
    return boxes[keep].numpy()


@torch.inference_mode()
def _multibox_boxes(records, model, cfg, ctx: DistContext, batch: int, progress: bool):
    """Yield ``(record, boxes [M, 4] pixels, scores [M])`` for readable images."""
    ds = BoxImageDataset(records, cfg.data, train=False)
    loader = DataLoader(ds, batch_size=batch, collate_fn=list, num_workers=0)
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    i = 0
    for items in tqdm(loader, desc="multibox", disable=not (progress and ctx.is_main)):
        good = [(k, x) for k, (x, _, _) in enumerate(items) if x is not None]
        recs = records[i : i + len(items)]
        i += len(items)
        for k, (x, _, _) in enumerate(items):
            if x is None:
                yield recs[k], None, None
        if not good:
            continue
        boxes, logits = model(torch.stack([x for _, x in good]).to(ctx.device, memory_format=mf))
        sizes = [(recs[k].width, recs[k].height) for k, _ in good]
        for (k, _), (b, s) in zip(good, decode(boxes, logits, sizes, cfg.top_k, cfg.nms_iou), strict=True):
            yield recs[k], b.numpy(), s.numpy()


def extract_network(
    dataset: DetectionDataset, cache: ProposalCache, multibox_ckpt: str, method: str, ss_cfg: SelectiveSearchConfig | None,
    workers: int, ctx: DistContext, batch: int = 16, progress: bool = True, top_k: int | None = None,
) -> dict:  # fmt: skip
    """``multibox``: the network's top-K boxes; ``combined``: those merged with selective search
    (the paper: doubled superpixels plus the top 200 MultiBox boxes)."""
    model, mb_cfg = load_multibox(multibox_ckpt, ctx.device)
    if top_k is not None:
        mb_cfg.top_k = top_k
    meta = {"method": method, "multibox_ckpt": str(Path(multibox_ckpt).resolve()), "top_k": mb_cfg.top_k}
    if method == "combined":
        meta.update({f"ss_{k}": v for k, v in asdict(ss_cfg).items()})
    cache.write_meta(meta)
    mine = [r for r in dataset.records[ctx.rank :: ctx.world_size] if not cache.has(r.image_id, r.file)]
    n_total = len(dataset.records[ctx.rank :: ctx.world_size])
    ss = {}
    if method == "combined":
        tasks = [(r.image_id, str(r.file), None, ss_cfg) for r in mine]
        pool = get_context("fork").Pool(workers) if workers > 1 else None
        try:
            results = pool.imap_unordered(_ss_boxes_task, tasks) if pool else map(_ss_boxes_task, tasks)
            ss = dict(tqdm(results, total=len(tasks), desc="selective search", disable=not (progress and ctx.is_main)))
        finally:
            if pool:
                pool.close()
                pool.join()
    counts, unreadable = [], []
    for r, boxes, scores in _multibox_boxes(mine, model, mb_cfg, ctx, batch, progress):
        if boxes is None or (method == "combined" and ss.get(r.image_id) is None):
            unreadable.append(r.image_id)
            continue
        if method == "combined":
            boxes, scores = merge_proposals(boxes, ss[r.image_id]), None
        cache.put(r.image_id, boxes, scores, source=r.file)
        counts.append(len(boxes))
    return {
        "images": n_total,
        "computed": len(counts),
        "reused": n_total - len(mine),
        "unreadable": unreadable,
        "boxes": sum(counts),
    }


def _ss_boxes_task(task: tuple) -> tuple:
    image_id, file, _, cfg = task
    image = read_rgb(file)
    return image_id, (None if image is None else selective_search(image, cfg))
