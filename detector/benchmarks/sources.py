"""``tools/benchmark.py sources``: a detector's seconds an image on each proposal source,
proposals included.

Each ``--ckpt`` (a ``train_det`` checkpoint; ``PATH@N`` scores only its first ``N`` proposals an
image, as ``eval_det.py --max-proposals N`` does; ``A+B+C`` is an ensemble on ``A``'s proposals)
detects the first ``--images`` images of
``--data``/``--split`` one at a time, as ``infer.py`` does without a cache: proposals computed
with its config's method (selective search, MultiBox or both), then every region scored. The
checkpoints take turns image by image after one untimed image each, so that they share the
images, the threads and the machine's noise. Per checkpoint: its proposal method and
``head.mode``, the mean number of regions scored, and the median seconds of the proposals, of the
scoring and of the whole image, with the whole's ratio to the first checkpoint's.

``--precision fp32,bf16,int8`` runs every checkpoint in each precision (a row each); int8
calibrates on ``--calib-split`` of ``--data`` (default ``train``), not on the timed images.
``--compile`` compiles the fp32 and bf16 trunks (the untimed first image pays for it).
``--tta none hflip hflip,vflip`` runs every checkpoint with each set of test-time views.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from ..api import Detector
from ..api.inputs import as_rgb
from ..data import load_dataset
from ..errors import UserError
from .timing import sync


def parse_entry(text: str) -> tuple[Path | list[Path], int | None]:
    """``"run/final.pth@100"`` -> ``(Path("run/final.pth"), 100)``; without ``@N``, ``None``;
    ``"a.pth+b.pth"`` -> ``([Path("a.pth"), Path("b.pth")], None)``, an ensemble."""
    path, sep, count = text.rpartition("@")
    if not sep:
        path, count = text, None
    elif not count.isdigit() or int(count) < 1:
        raise UserError(f"--ckpt {text}: the count after @ must be a positive whole number")
    paths = [Path(p) for p in path.split("+")]
    return (paths[0] if len(paths) == 1 else paths), (None if count is None else int(count))


def _timed(det: Detector, image) -> tuple[float, float, int]:
    """Seconds of the proposals, seconds of the scoring, regions scored: one ``[H, W, 3]`` image."""
    t0 = time.perf_counter()
    props = det.proposals_for(image)
    t1 = time.perf_counter()
    result = det.detect(image, props)
    sync(det.device)
    return t1 - t0, time.perf_counter() - t1, result.num_proposals


def run(data: Path, split: str = "val", ckpt: list[str] | None = None, images: int = 20, device: str = "cpu",
        precision: str = "fp32", calib_split: str = "train", compile: bool = False, tta: list[str] | None = None,
        **_: object) -> dict:  # fmt: skip
    if not ckpt:
        raise UserError("sources needs at least one --ckpt")
    precisions = [p.strip() for p in precision.split(",") if p.strip()]
    views = ["" if v == "none" else v for v in tta or ["none"]]
    entries = [(*parse_entry(c), p, v) for c in ckpt for p in precisions for v in views]
    for path, _n, _p, _v in entries:
        for file in path if isinstance(path, list) else [path]:
            if not file.is_file():
                raise UserError(f"{file}: no such checkpoint")
    dataset = load_dataset(data, split)
    pictures = [as_rgb(str(r.file))[0] for r in dataset.records[:images]]
    if not pictures:
        raise UserError(f"{data} {split}: no images")
    calib = load_dataset(data, calib_split) if "int8" in precisions else None
    dets = [Detector.load(path, device, max_proposals=n, precision=p, calib=calib if p == "int8" else None,
                          compile=compile and p != "int8", tta=v) for path, n, p, v in entries]  # fmt: skip
    times = [{"proposals": [], "score": [], "regions": []} for _ in dets]
    with torch.inference_mode():
        for det in dets:
            _timed(det, pictures[0])  # loads what is loaded lazily (MultiBox, OpenCV's search)
        for image in pictures:
            for det, t in zip(dets, times, strict=True):
                p, s, n = _timed(det, image)
                t["proposals"].append(p), t["score"].append(s), t["regions"].append(n)
    rows = []
    for (path, _n, prec, v), det, t in zip(entries, dets, times, strict=True):
        cfg = det.members[0].cfg
        whole = [p + s for p, s in zip(t["proposals"], t["score"], strict=True)]
        name = "+".join(str(p) for p in path) if isinstance(path, list) else str(path)
        rows.append({
            "ckpt": name + (f" tta {v}" if v else ""), "members": len(det.members), "views": len(det.ensemble.views),
            "precision": prec + (" compiled" if compile and prec != "int8" else ""), "max_proposals": det.test.max_proposals, "method": cfg.proposals.method,
            "head_mode": cfg.head.mode, "regions_per_image": statistics.mean(t["regions"]),
            "proposal_seconds": statistics.median(t["proposals"]), "score_seconds": statistics.median(t["score"]),
            "seconds_per_image": statistics.median(whole),
        })  # fmt: skip
    for r in rows:
        r["speedup_vs_first"] = rows[0]["seconds_per_image"] / r["seconds_per_image"]
    return {"data": str(data), "split": split, "images": len(pictures), "threads": torch.get_num_threads(),
            "device": device, "rows": rows}  # fmt: skip


def format_table(res: dict) -> str:
    lines = [
        f"{res['data']} {res['split']}: {res['images']} images one at a time, {res['threads']} thread(s), {res['device']}",
        "| checkpoint | precision | proposals | head | regions/img | proposals s | scoring s | s/img | vs first |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['ckpt']} | {r['precision']} | {r['method']} | {r['head_mode']} | {r['regions_per_image']:.0f} | "
            f"{r['proposal_seconds']:.3f} | {r['score_seconds']:.3f} | {r['seconds_per_image']:.3f} | "
            f"{r['speedup_vs_first']:.2f}x |"
        )
    lines.append("seconds: medians over the images; vs first: the first checkpoint's s/img over this one's")
    return "\n".join(lines)
