"""Compute region proposals for a split into a per-image cache (resumable, parallel, torchrun-sharded).

    googlenet-det proposals --data ROOT|ANN.json --split NAME --out DIR [--config det.yaml]
        [--opts key=value ...] [--method ss|multibox|combined] [--multibox-ckpt MB.pth]
        [--workers N] [--mode fast|quality|single] [--k-scale 2.0] [--resize-width 500|0] [--min-size 2]
    torchrun --nproc_per_node=N tools/proposals.py ...   (each rank takes its share of the images)

The settings are :class:`~detector.rcnn.config.ProposalConfig`'s: its defaults (with as many
selective-search processes as CPUs), then the ``proposals:`` section of ``--config`` (a
``train_det`` config serves as it is; a file holding only the section works too), then ``--opts``
(``selective_search.k_scale=2``), then the shorthand flags. They are saved beside the cache
(``proposals.yaml``), as every other stage saves its config.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..cli import UserError
from ..config import apply_opts, merge_config, read_yaml, save_config
from ..data import load_dataset
from ..engine.distributed import barrier, cleanup, setup
from ..proposals.cache import ProposalCache
from ..proposals.extract import extract_network, extract_selective_search
from ..rcnn.config import ProposalConfig

# shorthand flags of ProposalConfig's own keys, and of its selective_search section's
FLAGS = ("method", "multibox_ckpt", "top_k", "workers")
SS_FLAGS = ("mode", "k_scale", "resize_width", "min_size")


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True, help="VOC/ILSVRC dataset folder or COCO .json")
    ap.add_argument("--split", help="split list name (XML datasets)")
    ap.add_argument("--images", help="image folder of a COCO file")
    ap.add_argument("--out", required=True, help="cache folder")
    ap.add_argument("--config", help="YAML with a proposals: section (a train_det config) or only its keys")
    ap.add_argument("--opts", nargs="*", default=[], help="overrides, e.g. selective_search.k_scale=2 method=ss")
    ap.add_argument("--method", choices=("ss", "multibox", "combined"))
    ap.add_argument("--multibox-ckpt", help="tools/train_multibox.py's final.pth (multibox, combined)")
    ap.add_argument("--top-k", type=int, help="MultiBox boxes kept per image (default: the checkpoint's top_k)")
    ap.add_argument("--workers", type=int, help="selective-search processes (default: one per CPU)")
    ap.add_argument("--mode", choices=("fast", "quality", "single"))
    ap.add_argument("--k-scale", type=float, help="2.0: the paper's doubled superpixels")
    ap.add_argument("--resize-width", type=int, help="0 keeps the original size (default 500)")
    ap.add_argument("--min-size", type=float)
    return ap


def proposal_config(args) -> ProposalConfig:
    """The settings ``args`` asks for (see the module doc), checked."""
    cfg = ProposalConfig(workers=os.cpu_count() or 1)
    if args.config:
        data = read_yaml(args.config)
        cfg = merge_config(cfg, data.get("proposals", data) or {}, f"{args.config} (proposals)")
    cfg = apply_opts(cfg, args.opts)
    flags = {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}
    ss = {k: getattr(args, k) for k in SS_FLAGS if getattr(args, k) is not None}
    cfg = merge_config(cfg, {**flags, **({"selective_search": ss} if ss else {})}, "flags")
    if cfg.selective_search.resize_width == 0:
        cfg.selective_search.resize_width = None  # 0 keeps the original size
    if cfg.workers < 1:
        raise UserError(f"workers={cfg.workers}: need at least 1")
    if cfg.method != "ss" and not cfg.multibox_ckpt:
        raise UserError(f"--method {cfg.method} needs --multibox-ckpt")
    return cfg


def compute_proposals(cfg: ProposalConfig, data: str, split: str | None, images: str | None, out: str | Path) -> int:
    """Fill the cache ``out`` for a split with ``cfg``'s method; returns the exit status (1 when
    an image failed: each is named on stderr)."""
    ctx = setup("auto" if cfg.method != "ss" else "cpu")
    try:
        dataset = load_dataset(data, split, images)
        if ctx.is_main:
            print(dataset.log.summary())
            save_config(cfg, Path(out) / "proposals.yaml")
        t0, cache = time.perf_counter(), ProposalCache(out)
        if cfg.method == "ss":
            res = extract_selective_search(dataset, cache, cfg.selective_search, cfg.workers, ctx)
        else:
            res = extract_network(dataset, cache, cfg.multibox_ckpt, cfg.method, cfg.selective_search, cfg.workers,
                                  ctx, top_k=cfg.top_k)  # fmt: skip
        secs = time.perf_counter() - t0
        print(
            f"rank {ctx.rank}: {res['computed']} images computed ({res['boxes'] / max(res['computed'], 1):.0f} boxes/image), "
            f"{res['reused']} already cached, {len(res['failed'])} failed, {secs:.1f} s; cache: {out}"
        )
        for file, why in res["failed"]:
            print(f"error: {file}: {why}, skipped", file=sys.stderr)
        barrier(ctx, "the end of the proposals")
        return 1 if res["failed"] else 0
    finally:
        cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    return compute_proposals(proposal_config(args), args.data, args.split, args.images, args.out)


__all__ = ["compute_proposals", "main", "proposal_config"]
