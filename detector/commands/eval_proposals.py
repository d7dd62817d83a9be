"""Recall of cached proposals: recall@0.5/0.7, ABO/MABO, mean count, seconds per image, recall-vs-number plot.

tools/eval_proposals.py --data ROOT|ANN.json --split NAME --proposals DIR [--json out.json] [--plots DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.data import load_dataset
from detector.proposals.cache import ProposalCache
from detector.proposals.recall import plot_recall_curve, proposal_recall

from ..files import write_json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split")
    ap.add_argument("--images")
    ap.add_argument("--proposals", required=True, help="cache folder written by tools/proposals.py")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--plots", help="write recall_vs_number.png here")
    args = ap.parse_args(argv)
    dataset = load_dataset(args.data, args.split, args.images)
    cache = ProposalCache(args.proposals)
    meta = cache.meta()
    res = proposal_recall(dataset, cache)
    res["proposals"] = meta
    print(f"{dataset.name}: {res['num_images']} images, {res['num_gt']} boxes; proposals {meta}")
    print(f"recall@0.5 {res['recall@0.5']:.4f}   recall@0.7 {res['recall@0.7']:.4f}   ABO {res['abo']:.4f}   "
          f"MABO {res['mabo']:.4f}   mean count {res['mean_count']:.1f}")  # fmt: skip
    if res["ss_seconds_per_image"] is not None:
        print(f"selective search: {res['ss_seconds_per_image']:.3f} s per image when computed "
              f"(one worker each; {res['ss_seconds_images']} images recorded it)")  # fmt: skip
    if args.json:
        write_json(args.json, res)
    if args.plots:
        Path(args.plots).mkdir(parents=True, exist_ok=True)
        plot_recall_curve(res, str(Path(args.plots) / "recall_vs_number.png"), f"{dataset.name}: {meta.get('method')}")
    for file in res["missing"]:
        print(f"error: {file}: no proposals in {args.proposals} (unreadable when they were computed?), left out",
              file=sys.stderr)  # fmt: skip
    return 1 if res["missing"] else 0
