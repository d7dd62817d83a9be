"""What every command-line tool shares: a user mistake ends in one line on stderr, not a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from backbones.errors import WeightsError
from backbones.transform import CAFFE_MEAN, parse_bvlc_mean

from .config import ConfigError
from .data.records import DatasetError
from .errors import UserError

USER_ERRORS = (UserError, ConfigError, DatasetError, WeightsError, FileNotFoundError)
EXIT_USER_ERROR = 2


def run_tool(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; turn a user error into ``error: <message>`` on stderr and exit code 2."""
    try:
        return int(main(argv) or 0)
    except USER_ERRORS as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def training_done(out: str, summary: str | None) -> str:
    """The training tools' last line: ``summary`` of the final validation, or, when none ran
    (``eval_every=0``), that the weights are not validated."""
    if summary is None:
        return f"done: not validated (eval_every=0); EMA weights in {out}/final.pth"
    return f"done: {summary} (EMA weights in {out}/final.pth)"


def add_runtime_args(ap) -> None:
    """``--runtime`` and ``--onnx`` of the tools that run detectors (``detector.Detector.load``)."""
    ap.add_argument(
        "--runtime", default="torch", choices=("torch", "onnxruntime"),
        help="what scores the regions: PyTorch, or onnxruntime on the CPU (the network exported to ONNX)",
    )  # fmt: skip
    ap.add_argument(
        "--onnx", action="append",
        help="with --runtime onnxruntime: the file tools/export_onnx.py wrote from --ckpt, one per --ckpt "
        "(default: export each checkpoint's network when loading it)",
    )  # fmt: skip


def runtime_device(args) -> str:
    """``--device``, made ``cpu`` under ``--runtime onnxruntime`` when it was ``auto``."""
    return "cpu" if args.runtime == "onnxruntime" and args.device == "auto" else args.device


def add_bvlc_mean_arg(ap) -> None:
    """``--bvlc-mean``: the BGR mean of an ONNX BVLC GoogLeNet's input convention."""

    def parse(text: str) -> tuple[float, float, float]:
        try:
            return parse_bvlc_mean(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    ap.add_argument(
        "--bvlc-mean", type=parse, default=CAFFE_MEAN,
        help="BGR mean of an ONNX BVLC GoogLeNet's input: caffe (104,117,123; default), zoo (103.939,116.779,123.68) or B,G,R",
    )  # fmt: skip
