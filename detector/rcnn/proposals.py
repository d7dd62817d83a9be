"""Proposals for the detector: from a cache (filled on first use) or computed on the fly.

Training and evaluation read a :class:`~detector.proposals.cache.ProposalCache`; images it
lacks are computed with the config's method first (tools/proposals.py's code, so a cache made
by that tool and one made here are interchangeable). A cache that already holds every image is
used as it is, whatever parameters made it. ``infer.py`` without a cache computes proposals per
image with :class:`OnTheFly`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.records import DetectionDataset
from ..engine.distributed import DistContext, all_reduce_sum, barrier
from ..errors import UserError
from ..proposals.cache import ProposalCache
from ..proposals.extract import extract_network, extract_selective_search, merge_proposals
from ..proposals.multibox import decode_multibox, load_multibox
from ..proposals.multibox_data import multibox_input
from ..proposals.selective_search import selective_search
from .config import ProposalConfig


def ensure_proposals(
    dataset: DetectionDataset, root: str | Path, cfg: ProposalConfig, ctx: DistContext
) -> ProposalCache:
    """The cache at ``root`` with every readable image of ``dataset`` in it (computed if missing).

    Under ``torchrun`` the work is shared from the full list of images (rank ``r`` of ``W`` owns
    every ``W``-th), never from each rank's own view of what is missing: a rank that starts late
    sees the others' images as done but still owns the same ones, so no image is computed twice
    or left out. Every rank joins the count and the barrier, also one with nothing to compute.
    Unreadable cache entries count as missing and are computed again."""
    cache = ProposalCache(root)
    mine = dataset.records[ctx.rank :: ctx.world_size]
    n_missing = sum(not cache.has(r.image_id, r.file) for r in mine)
    n_missing = int(all_reduce_sum(torch.tensor([float(n_missing)], device=ctx.device), ctx).item())
    if n_missing:
        if ctx.is_main:
            print(f"proposals: computing {cfg.method} for {n_missing} of {len(dataset.records)} images into {root}")
        res = _compute(dataset, cache, cfg, ctx)
        for file, why in res["failed"]:
            print(f"proposals: skipped {file}: {why}")
        barrier(ctx, f"the end of the proposals in {root}")
    if cache.unreadable:
        print(
            f"proposals: {len(cache.unreadable)} unreadable cache entries computed again (e.g. {min(cache.unreadable)})"
        )
    return cache


def _compute(dataset: DetectionDataset, cache: ProposalCache, cfg: ProposalConfig, ctx: DistContext) -> dict:
    """This rank's share of ``dataset`` (the images the cache lacks) into ``cache``, by ``cfg.method``."""
    if cfg.method == "ss":
        return extract_selective_search(dataset, cache, cfg.selective_search, cfg.workers, ctx)
    if not cfg.multibox_ckpt:
        raise UserError(
            f"proposals.method={cfg.method} needs proposals.multibox_ckpt (a train_multibox final.pth; "
            "--multibox in infer.py and eval_det.py)"
        )
    return extract_network(
        dataset, cache, cfg.multibox_ckpt, cfg.method, cfg.selective_search, cfg.workers, ctx, top_k=cfg.top_k
    )


def val_cache_root(train: DetectionDataset, val: DetectionDataset, root: Path) -> Path:
    """Where ``val``'s proposals go: ``root`` beside ``train``'s, or ``<root>_val`` when the two are
    separate datasets (two COCO files) that give one image id to different files: the cache is keyed
    by image id, so they cannot share it."""
    if val is train:
        return root
    names = {r.image_id: Path(r.file).name for r in train.records}
    if all(names.get(r.image_id, Path(r.file).name) == Path(r.file).name for r in val.records):
        return root
    return root.with_name(f"{root.name}_val")


class OnTheFly:
    """Proposals for one RGB image ``[H, W, 3]`` uint8 -> ``[N, 4]`` float32 xyxy pixels."""

    def __init__(self, cfg: ProposalConfig, device: torch.device):
        self.cfg = cfg
        self.multibox = None
        if cfg.method != "ss":
            if not cfg.multibox_ckpt or not Path(cfg.multibox_ckpt).is_file():
                raise UserError(
                    f"proposals.method={cfg.method} needs its MultiBox checkpoint, "
                    f"{cfg.multibox_ckpt!r} not found (pass --multibox with its path, or --proposals with a cache)"
                )
            self.multibox, self.mb_cfg = load_multibox(cfg.multibox_ckpt, device)
            if cfg.top_k is not None:
                self.mb_cfg.top_k = cfg.top_k
            self.device = device

    @torch.inference_mode()
    def _multibox(self, image: np.ndarray, limit: int | None) -> np.ndarray:
        h, w = image.shape[:2]
        x, valid = multibox_input(image, self.mb_cfg)
        boxes, logits = self.multibox(x.to(self.device), valid)
        top_k = self.mb_cfg.top_k if limit is None else min(self.mb_cfg.top_k, limit)
        return decode_multibox(boxes, logits, [(w, h)], top_k, self.mb_cfg.nms_iou)[0][0].numpy()

    def __call__(self, image: np.ndarray, limit: int | None = None) -> np.ndarray:
        """``limit``: the detector scores only the first ``limit`` boxes, so MultiBox keeps no
        more (the same first boxes: NMS decides each from those above it)."""
        if self.cfg.method == "ss":
            return selective_search(image, self.cfg.selective_search)
        mb = self._multibox(image, limit)
        if self.cfg.method == "multibox":
            return mb
        return merge_proposals(mb, selective_search(image, self.cfg.selective_search))


def _source_key(cfg: ProposalConfig) -> tuple:
    """What makes two members' proposals the same: method, parameters, MultiBox checkpoint."""
    return (cfg.method, repr(cfg.selective_search), str(cfg.multibox_ckpt or ""), cfg.top_k)


def proposal_sources(configs: list[ProposalConfig], shared: bool) -> tuple[list[ProposalConfig], list[int]]:
    """Members' proposal configs -> ``(the distinct sources, member -> its source's index)``;
    ``shared`` (one proposal set for all, the average path): the first member's only."""
    if shared:
        return [configs[0]], [0] * len(configs)
    keys: list[tuple] = []
    sources, source_of = [], []
    for cfg in configs:
        key = _source_key(cfg)
        if key not in keys:
            keys.append(key)
            sources.append(cfg)
        source_of.append(keys.index(key))
    return sources, source_of


def source_roots(roots: str | Path | list | tuple, count: int) -> list[Path]:
    """Cache folders of ``count`` proposal sources: a list gives one per source; one folder
    serves a single source, or holds ``s0``, ``s1``, ... subfolders for several."""
    if isinstance(roots, (list, tuple)):
        if len(roots) != count:
            raise UserError(f"{len(roots)} proposal caches for {count} proposal sources: give one per source")
        return [Path(r) for r in roots]
    return [Path(roots)] if count == 1 else [Path(roots) / f"s{k}" for k in range(count)]


def boxes_from(caches: list[ProposalCache], record) -> list[np.ndarray | None]:
    """A record's raw boxes from each source's cache (None where one lacks it)."""
    return [c.boxes_for(record) for c in caches]
