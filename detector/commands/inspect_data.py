"""Report what a detection dataset holds (images, objects, classes, sizes, problems) and, with
--config, the settings train_det --auto would choose from it.

    tools/inspect_data.py --data DIR|ANN.json [--split S ...] [--images DIR] [--class-map FILE]
        --out DIR [--config configs/voc_custom.yaml [--init CLS_CKPT] [--opts k=v ...]]

An XML dataset is read for every split named (default: train, val and test where listed); a
COCO .json is one split. Writes OUT/dataset.json (the numbers: detector.data.stats) and
OUT/labels_<split>.png (classes, box sizes, aspects, centres); --config adds OUT/auto.json and
prints each choice with its reason, made from the first split (the training one).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..data.inspect import describe_splits
from ..data.load import load_dataset
from ..errors import UserError
from ..files import write_json
from ..pipeline.settings import resolve_settings
from ..pipeline.splits import listed


def _splits(args) -> dict:
    if Path(args.data).suffix.lower() == ".json":
        if args.split:
            raise UserError("--split names lists of an XML dataset; a COCO .json is one split")
        return {Path(args.data).stem: load_dataset(args.data, None, args.images, check_images=True)}
    names = args.split or [s for s in ("train", "val", "test") if listed(args.data, s)]
    if not names:
        raise UserError(f"{args.data}: no --split given and no train, val or test list in ImageSets/")
    first = load_dataset(args.data, names[0], None, args.class_map, check_images=True)
    out = {names[0]: first}
    for name in names[1:]:
        out[name] = load_dataset(args.data, name, None, args.class_map, True, class_names=first.class_names)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="VOC/ILSVRC folder, or a COCO .json")
    ap.add_argument("--split", nargs="+", help="XML split lists (default: train, val, test where listed)")
    ap.add_argument("--images", help="image folder of a COCO file (default: found beside it)")
    ap.add_argument("--class-map", help="XML datasets: map_det.txt-style class list")
    ap.add_argument("--out", required=True, help="folder for dataset.json and the labels pictures")
    ap.add_argument("--config", help="a train_det config: also print the settings --auto would choose")
    ap.add_argument("--init", help="with --config: the --init the training would use (its input size)")
    ap.add_argument("--opts", nargs="*", default=[], help="with --config: train_det's --opts")
    ap.add_argument("--no-pictures", action="store_true", help="the numbers only (dataset.json)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    splits = _splits(args)
    report = describe_splits(splits, args.out, () if args.no_pictures else None)
    print(f"report: {Path(args.out) / 'dataset.json'} ({time.perf_counter() - t0:.1f} s)")
    if args.config:
        first = next(iter(report["splits"].values()))
        s = resolve_settings(args.config, args.opts, args.init, True, first)
        for c in s.choices:
            print(c.line())
        for c in s.multibox_choices:
            print(c.line().replace("auto: ", "auto: multibox "))
        write_json(Path(args.out) / "auto.json", {"detector": [vars(c) for c in s.choices],
                                                  "multibox": [vars(c) for c in s.multibox_choices]})  # fmt: skip
        print(f"settings: {Path(args.out) / 'auto.json'} ({time.perf_counter() - t0:.1f} s in all)")
    return 0
