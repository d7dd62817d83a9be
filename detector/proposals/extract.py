"""Computing proposals for a whole split into a :class:`ProposalCache`.

Images are shared out twice: under ``torchrun`` rank ``r`` of ``W`` takes every ``W``-th image
(so a cluster shares the work), and on each machine spawned worker processes run selective
search (:func:`~detector.engine.workers.run_tasks`: no fork, a bounded wait per image, one
retry). Each image's proposals are written to the cache as soon as they are complete, so an
interruption loses nothing finished and a rerun resumes. Images already in the cache are
skipped; an image that cannot be read, or whose selective search fails twice, is skipped and
named in the result's ``failed``, never fatal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.ops import nms
from tqdm import tqdm

from ..data.images import read_rgb
from ..data.records import DetectionDataset
from ..engine.distributed import DistContext
from ..engine.workers import run_tasks
from .cache import ProposalCache
from .multibox import decode_multibox, load_multibox
from .multibox_data import multibox_dataset, pad_multiple, stack_inputs
from .selective_search import SelectiveSearchConfig, selective_search

SS_TIMEOUT = 600.0  # seconds one image's selective search may take before its worker is replaced


def _ss_task(task: tuple) -> tuple[np.ndarray, float] | None:
    """One image's selective search in a worker: ``(file, cfg)`` -> ``(boxes, seconds)`` (the
    wall time of reading and searching it in this worker), or None if unreadable."""
    file, cfg = task
    t0 = time.perf_counter()
    image = read_rgb(file)
    return None if image is None else (selective_search(image, cfg), time.perf_counter() - t0)


def _ss_worker_init(threads: int) -> None:
    cv2.setNumThreads(threads)  # W workers share the cores instead of each using all of them


def selective_search_records(
    records: list, cfg: SelectiveSearchConfig, workers: int, progress: bool = True, timeout: float = SS_TIMEOUT
) -> Iterator[tuple[object, np.ndarray | None, str | None]]:
    """Yield ``(record, (boxes [N, 4], seconds) or None, why it failed or None)`` for each record
    as its selective search completes (``seconds``: its wall time in its worker), over ``workers`` spawned processes (see
    :func:`~detector.engine.workers.run_tasks`: bounded wait, one retry, never a fork)."""
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    outcomes = run_tasks(_ss_task, [(str(r.file), cfg) for r in records], workers, timeout,
                         initializer=_ss_worker_init, initargs=(threads,))  # fmt: skip
    for o in tqdm(outcomes, total=len(records), desc="selective search", disable=not progress):
        r = records[o.index]
        if o.error is not None:
            yield r, None, o.error
        elif o.value is None:
            yield r, None, "cannot be read as an image"
        else:
            yield r, o.value, None


def _search_into(
    cache: ProposalCache, records: list, cfg: SelectiveSearchConfig, workers: int, progress: bool, timeout: float,
    counts: list[int], failed: list[tuple], first: dict | None = None, first_seconds: dict | None = None,
) -> None:  # fmt: skip
    """Selective search of ``records`` into ``cache``, each image written as it completes (after
    ``first[image_id]``, its MultiBox boxes, merged in front when given) with its search's
    seconds; box counts and
    ``(file, why)`` failures are appended to ``counts`` and ``failed``."""
    for r, found, why in selective_search_records(records, cfg, workers, progress, timeout):
        if found is None:
            failed.append((str(r.file), why))
            continue
        boxes, seconds = found
        if first is not None:
            boxes = merge_proposals(first.pop(r.image_id), boxes)
        mb = first_seconds.pop(r.image_id, None) if first_seconds is not None else None
        cache.put(r.image_id, boxes, source=r.file, ss_seconds=seconds, mb_seconds=mb)
        counts.append(len(boxes))


def _summary(n_total: int, n_todo: int, counts: list[int], failed: list[tuple]) -> dict:
    return {
        "images": n_total,
        "computed": len(counts),
        "reused": n_total - n_todo,
        "failed": failed,  # [(image file, why)]
        "boxes": sum(counts),
    }


def extract_selective_search(
    dataset: DetectionDataset,
    cache: ProposalCache,
    cfg: SelectiveSearchConfig,
    workers: int,
    ctx: DistContext,
    progress: bool = True,
    timeout: float = SS_TIMEOUT,
) -> dict:
    """Fill ``cache`` with this rank's share of ``dataset``, each image written as it completes;
    returns counts for this rank, with ``failed``: ``[(file, why)]`` of the images skipped."""
    cache.write_meta({"method": "ss", **asdict(cfg)})
    mine = dataset.records[ctx.rank :: ctx.world_size]
    todo = [r for r in mine if not cache.has(r.image_id, r.file)]
    counts, failed = [], []
    _search_into(cache, todo, cfg, workers, progress and ctx.is_main, timeout, counts, failed)
    return _summary(len(mine), len(todo), counts, failed)


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
    """Yield ``(record, boxes [M, 4] pixels, scores [M], seconds)`` for readable images (``None``
    boxes for unreadable ones); ``seconds``: the image's share of its batch's wall time."""
    ds = multibox_dataset(records, cfg, train=False)
    loader = DataLoader(ds, batch_size=batch, collate_fn=list, num_workers=0)
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    i, t0 = 0, time.perf_counter()
    for items in tqdm(loader, desc="multibox", disable=not (progress and ctx.is_main)):
        good = [(k, x) for k, (x, _, _) in enumerate(items) if x is not None]
        recs = records[i : i + len(items)]
        i += len(items)
        for k, (x, _, _) in enumerate(items):
            if x is None:
                yield recs[k], None, None, None
        if not good:
            continue
        x, valid = stack_inputs([x for _, x in good], pad_multiple(cfg))
        boxes, logits = model(x.to(ctx.device, memory_format=mf), valid)
        sizes = [(recs[k].width, recs[k].height) for k, _ in good]
        decoded = decode_multibox(boxes, logits, sizes, cfg.top_k, cfg.nms_iou)
        seconds = (time.perf_counter() - t0) / len(items)  # the batch's reading, network and decoding
        for (k, _), (b, s) in zip(good, decoded, strict=True):
            yield recs[k], b.numpy(), s.numpy(), seconds
        t0 = time.perf_counter()


def extract_network(
    dataset: DetectionDataset, cache: ProposalCache, multibox_ckpt: str, method: str, ss_cfg: SelectiveSearchConfig | None,
    workers: int, ctx: DistContext, batch: int = 16, progress: bool = True, top_k: int | None = None,
    timeout: float = SS_TIMEOUT,
) -> dict:  # fmt: skip
    """``multibox``: the network's top-K boxes; ``combined``: those merged with selective search
    (the paper: doubled superpixels plus the top 200 MultiBox boxes). The network runs first
    (batched, in this process); each image is written as soon as its proposals are complete."""
    model, mb_cfg = load_multibox(multibox_ckpt, ctx.device)
    if top_k is not None:
        mb_cfg.top_k = top_k
    meta = {"method": method, "multibox_ckpt": str(Path(multibox_ckpt).resolve()), "top_k": mb_cfg.top_k}
    if method == "combined":
        meta.update({f"ss_{k}": v for k, v in asdict(ss_cfg).items()})
    cache.write_meta(meta)
    mine = dataset.records[ctx.rank :: ctx.world_size]
    todo = [r for r in mine if not cache.has(r.image_id, r.file)]
    counts, failed, network, mb_seconds = [], [], {}, {}
    for r, boxes, scores, seconds in _multibox_boxes(todo, model, mb_cfg, ctx, batch, progress):
        if boxes is None:
            failed.append((str(r.file), "cannot be read as an image"))
        elif method == "multibox":
            cache.put(r.image_id, boxes, scores, source=r.file, mb_seconds=seconds)
            counts.append(len(boxes))
        else:  # combined: merged with each image's selective search as that completes
            network[r.image_id], mb_seconds[r.image_id] = boxes, seconds
    if method == "combined":
        readable = [r for r in todo if r.image_id in network]
        _search_into(cache, readable, ss_cfg, workers, progress and ctx.is_main, timeout, counts, failed, network,
                     mb_seconds)  # fmt: skip
    return _summary(len(mine), len(todo), counts, failed)
