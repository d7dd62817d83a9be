"""Computing proposals for a whole split into a :class:`ProposalCache`.

Images are shared out twice: under ``torchrun`` rank ``r`` of ``W`` takes every ``W``-th image
(so a cluster shares the work), and on each machine a pool of forked worker processes runs
selective search. Images already in the cache are skipped (resume); unreadable images are
counted and reported, never fatal.
"""

from __future__ import annotations

from dataclasses import asdict
from multiprocessing import get_context

from tqdm import tqdm

from ..classify.data import read_rgb
from ..data.records import DetectionDataset
from ..engine.distributed import DistContext
from .cache import ProposalCache
from .selective_search import SelectiveSearchConfig, selective_search


def _ss_task(task: tuple) -> tuple:
    image_id, file, root, cfg = task
    image = read_rgb(file)
    if image is None:
        return image_id, None
    boxes = selective_search(image, cfg)
    ProposalCache(root).put(image_id, boxes)
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
    todo = [(r.image_id, str(r.file), str(cache.root), cfg) for r in mine if not cache.has(r.image_id)]
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
