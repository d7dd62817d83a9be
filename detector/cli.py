"""What every command-line tool shares: a user mistake ends in one line on stderr, not a traceback."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from backbones.errors import WeightsError
from backbones.transform import CAFFE_MEAN, parse_bvlc_mean

from .config import ConfigError, load_config
from .data.images import ImageError
from .data.records import DatasetError
from .errors import Interrupted, UserError
from .rcnn.fusion import FUSIONS

# the OSErrors of a path the user gave (a folder where a file goes, or the reverse; no permission)
PATH_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)
USER_ERRORS = (UserError, ConfigError, DatasetError, ImageError, WeightsError, *PATH_ERRORS)
EXIT_USER_ERROR = 2


def first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _user_error_names() -> set[str]:
    names, todo = set(), list(USER_ERRORS)
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


def worker_message(e: BaseException) -> str | None:
    """The user error's own message when ``e`` is torch's re-raise of one from a DataLoader
    worker ("Caught DatasetError in DataLoader worker process 0." and the worker's traceback, whose
    last line is ``module.DatasetError: <message>``); None for anything else."""
    text = str(e)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return None
    last = text.strip().splitlines()[-1]
    kind, sep, message = last.partition(": ")
    return message.strip() if sep and kind.rsplit(".", 1)[-1] in _user_error_names() else None


def _raise_interrupted(signum: int, _frame) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGINT) raise :class:`~detector.errors.Interrupted` in the main thread while
    the block runs, so that ``finally`` blocks end worker processes and the process group, and the
    tool exits at once with 128 + the signal (the training loop handles them itself, to checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_tool(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; turn a user error into ``error: <message>`` on stderr and exit code 2,
    and SIGINT/SIGTERM at any stage into ``interrupted`` and exit code 130/143."""
    try:
        with signals_interrupt():
            return int(main(argv) or 0)
    except USER_ERRORS as e:
        print(f"error: {worker_message(e) or first_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RuntimeError as e:  # a user error of a DataLoader worker that torch could not rebuild
        message = worker_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as e:  # Interrupted included
        signum = getattr(e, "signum", signal.SIGINT)
        message = getattr(e, "message", "") or str(e)
        print(f"interrupted ({signal.Signals(signum).name}){': ' + message if message else ''}", file=sys.stderr)
        return 128 + int(signum)


def add_run_args(ap: argparse.ArgumentParser, data_help: str, init_help: str | None = None) -> None:
    """The arguments every trainer takes: ``--config``, ``--data`` (``data_help``), ``--out``,
    ``--resume``, ``--opts`` and, with ``init_help``, ``--init`` (it overrides the config's);
    :func:`run_config` reads them back."""
    ap.add_argument("--config", required=True, help="the run's YAML config (configs/)")
    ap.add_argument("--data", required=True, help=data_help)
    ap.add_argument("--out", required=True, help="run folder (checkpoints, metrics, plots)")
    if init_help is not None:
        ap.add_argument("--init", help=f"{init_help} (overrides the config's)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pth")
    ap.add_argument("--opts", nargs="*", default=[], help="dotted overrides, e.g. optim.lr=0.05 optim.epochs=3")


def run_config(cls: type, args: argparse.Namespace):
    """``cls`` from ``--config``, then ``--opts``, then ``--init`` (:func:`add_run_args`)."""
    init = getattr(args, "init", None)
    return load_config(cls, args.config, args.opts + ([f"init={init}"] if init else []))


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


def add_ensemble_args(ap) -> None:
    """``--tta``, ``--weights`` and ``--fusion`` of the tools that run detectors (:class:`detector.Detector`)."""
    ap.add_argument(
        "--tta", help="test-time views besides the image, comma-separated: hflip, vflip, rot90 "
        "(default: the checkpoint's test.tta)",
    )  # fmt: skip
    ap.add_argument("--weights", nargs="+", type=float, help="one weight per --ckpt (default: equal)")
    ap.add_argument(
        "--box-voting", action="store_true",
        help="move each detection to the score-weighted mean of its class's boxes overlapping it (IoU >= 0.5)",
    )  # fmt: skip
    ap.add_argument(
        "--fusion", default="average", choices=FUSIONS,
        help="average: all members score the first's proposals; union: all members' proposals; "
        "wbf, nmw, soft_nms: each member on its own proposals, detections fused (ensemble-boxes)",
    )  # fmt: skip


def ensemble_kwargs(args) -> dict:
    """:meth:`detector.Detector.load`'s ``tta``, ``weights`` and ``fusion`` from :func:`add_ensemble_args`'."""
    return {"tta": args.tta, "weights": args.weights, "fusion": args.fusion, "box_voting": args.box_voting or None}


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
