"""Recall of cached proposals: recall@0.5/0.7, ABO/MABO, mean count, seconds per image, recall-vs-number plot.

tools/eval_proposals.py --data ROOT|ANN.json --split NAME --proposals DIR [DIR ...] [--json out.json] [--plots DIR]

Several caches (selective search, MultiBox, their combination) are compared in one table (recall
at IoU 0.5 and 0.7 and ABO at 10 ... 2000 boxes an image, seconds an image) and on one figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.data import load_dataset
from detector.proposals.cache import ProposalCache
from detector.proposals.recall import plot_recall_curves, proposal_recall, recall_table

from ..files import write_json


def _evaluate(dataset, folder: str) -> dict:
    """One cache's numbers (:func:`proposal_recall`), printed; its ``meta`` under ``proposals``."""
    cache = ProposalCache(folder)
    meta = cache.meta()
    res = proposal_recall(dataset, cache)
    res["proposals"] = meta
    print(f"{folder}: {meta}")
    print(f"  recall@0.5 {res['recall@0.5']:.4f}   recall@0.7 {res['recall@0.7']:.4f}   ABO {res['abo']:.4f}   "
          f"MABO {res['mabo']:.4f}   mean count {res['mean_count']:.1f}")  # fmt: skip
    if res["seconds_per_image"] is not None:
        print(f"  {res['seconds_per_image']:.3f} s per image when computed "
              f"(selective search in one worker, MultiBox's share of its batch; {res['timed_images']} images recorded it)")  # fmt: skip
    for file in res["missing"]:
        print(
            f"error: {file}: no proposals in {folder} (unreadable when they were computed?), left out", file=sys.stderr
        )
    return res


def _name(folder: str, meta: dict, taken: set) -> str:
    name = f"{Path(folder).name} ({meta.get('method', '?')})"
    return name if name not in taken else f"{folder} ({meta.get('method', '?')})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split")
    ap.add_argument("--images")
    ap.add_argument("--proposals", required=True, nargs="+", help="cache folder(s) written by tools/proposals.py")
    ap.add_argument("--json", help="write the numbers here (one cache's, or {name: numbers} for several)")
    ap.add_argument("--plots", help="write recall_vs_number.png here (every cache on one figure)")
    args = ap.parse_args(argv)
    dataset = load_dataset(args.data, args.split, args.images)
    print(f"{dataset.name}: {len(dataset.records)} images")
    results: dict[str, dict] = {}
    for folder in args.proposals:
        res = _evaluate(dataset, folder)
        results[_name(folder, res["proposals"], set(results))] = res
    print(recall_table(results))
    if args.json:
        write_json(args.json, next(iter(results.values())) if len(results) == 1 else results)
    if args.plots:
        Path(args.plots).mkdir(parents=True, exist_ok=True)
        plot_recall_curves(results, str(Path(args.plots) / "recall_vs_number.png"), dataset.name)
    return 1 if any(r["missing"] for r in results.values()) else 0
