"""``googlenet-det``: the installed command, one verb per tool.

    googlenet-det infer photo.jpg                 # the demo's detector, or --ckpt det.pth
    googlenet-det VERB --help                     # the verb's own help
    googlenet-det --help                          # the verbs

Each verb runs the same ``main(argv)`` as its ``tools/*.py`` shim in a checkout (the module
named below, in :mod:`detector.commands`), with the same one-line errors (:func:`detector.cli.run_tool`).
"""

from __future__ import annotations

import importlib
import sys

from ..cli import run_tool

PROG = "googlenet-det"
# verb -> (module in detector.commands, one line for the listing)
VERBS = {
    "infer": ("infer", "detect objects in images: print them, draw them, write JSON"),
    "demo": ("demo", "the whole system on the embedded demo data (make demo)"),
    "make-demo-data": ("make_demo_data", "write the embedded demo dataset (ImageFolder, VOC XML, COCO JSON)"),
    "inspect-data": ("inspect_data", "what a detection dataset holds, and the settings --auto would choose"),
    "train-cls": ("train_cls", "pre-train GoogLeNet on an ImageFolder classification set"),
    "eval-cls": ("eval_cls", "top-1/top-5 error with 1, 10 or 144 crops; ensembles; Table 3"),
    "train-multibox": ("train_multibox", "train the MultiBox proposal network"),
    "proposals": ("proposals", "compute region proposals for a split into a cache"),
    "eval-proposals": ("eval_proposals", "recall, ABO and MABO of a proposal cache"),
    "train-det": ("train_det", "train the R-CNN detector (rcnn or fast mode)"),
    "eval-det": ("eval_det", "mAP (COCO, VOC07, VOC, ILSVRC) of results or of detectors on a split"),
    "analyze": ("analyze_det", "why a detector falls short: the error-analysis page"),
    "export": ("export_onnx", "export a classifier or detector to ONNX, checked with onnxruntime"),
    "model-info": ("model_info", "GoogLeNet's Table 1: layers, shapes, parameters, operations"),
    "benchmark": ("benchmark", "speed and accuracy measurements"),
    "screenshot": ("screenshot", "render the analysis page with headless Chromium"),
}


def usage() -> str:
    width = max(map(len, VERBS))
    lines = [f"usage: {PROG} VERB [ARGS ...]   ({PROG} VERB --help for a verb's arguments)", "", "verbs:"]
    lines += [f"  {verb:<{width}}  {text}" for verb, (_, text) in VERBS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run ``argv[0]``'s tool on the rest; ``--help`` (or nothing) lists the verbs."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"error: unknown verb '{verb}'; {PROG} --help lists them", file=sys.stderr)
        return 2
    # start-up cost: each tool imports torch and more; only the one asked for is loaded
    module = importlib.import_module(f"detector.commands.{VERBS[verb][0]}")
    prog, sys.argv[0] = sys.argv[0], f"{PROG} {verb}"  # argparse names the verb in its usage lines
    try:
        return run_tool(module.main, rest)
    finally:
        sys.argv[0] = prog


def entry_point() -> None:
    """The ``console_scripts`` entry of ``googlenet-det`` (setup.py)."""
    raise SystemExit(main())


__all__ = ["VERBS", "main"]
