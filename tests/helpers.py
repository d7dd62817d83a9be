"""Helpers the tests import: paths and running the command-line tools."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def run_tool(
    script: str, *args: str, cwd: Path | None = None, fresh_process: bool = False
) -> subprocess.CompletedProcess:
    """Run ``tools/<script>`` and capture its text output and exit status.

    By default the tool's ``main`` runs in this process, exactly as its ``__main__`` block does
    (``detector.cli.run_tool``: user errors become one line and exit status 2; argparse's exit
    status is kept), with stdout/stderr captured and ``cwd`` entered for the call: this saves
    the 4 s interpreter and torch start of a subprocess per call. An unexpected exception
    propagates and fails the test, as a traceback would. ``fresh_process=True`` runs the script
    in a new interpreter instead (what a user's shell does)."""
    if fresh_process:
        return subprocess.run([sys.executable, str(ROOT / "tools" / script), *args], capture_output=True, text=True,
                              cwd=cwd or ROOT, timeout=300)  # fmt: skip
    import importlib.util

    name = f"tools_{Path(script).stem}"
    module = sys.modules.get(name)
    if module is None:  # registered before it runs: its dataclasses look their module up
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / script)
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return run_main(module.main, *args, cwd=cwd, name=script)


def run_main(main, *args: str, cwd: Path | None = None, name: str = "main") -> subprocess.CompletedProcess:
    """``main(list(args))`` in this process as a command line runs it (``detector.cli.run_tool``:
    user errors become one line and exit status 2; argparse's exit status is kept), with
    stdout/stderr captured and ``cwd`` entered for the call."""
    import contextlib
    import io
    import logging
    import os

    from detector import cli

    out, err = io.StringIO(), io.StringIO()
    root_logger = logging.getLogger()
    handlers, level, here = list(root_logger.handlers), root_logger.level, os.getcwd()
    try:
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.run_tool(main, list(args))
            except SystemExit as e:  # argparse's usage errors and --help
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(here)
        root_logger.handlers[:], root_logger.level = handlers, level  # a tool's logging.basicConfig
    return subprocess.CompletedProcess([name, *args], code, out.getvalue(), err.getvalue())


def randomize_bn(model, seed: int = 1):
    """Give every BatchNorm2d of ``model`` non-trivial statistics and affine parameters (in
    place), so that folding and loading bugs cannot hide behind identity normalization."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
    return model


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_task(task):
    """A task for tests of ``detector.engine.workers`` (importable by spawned workers):
    ``("ok", x)`` -> ``2 * x``; ``("raise", _)`` raises; ``("die", _)`` ends the worker process;
    ``("hang", _)`` sleeps past any test timeout; ``("die_once", marker)`` ends the worker the
    first time (creating ``marker``) and returns ``"second try"`` when retried."""
    import os
    import time

    kind, arg = task
    if kind == "ok":
        return 2 * arg
    if kind == "raise":
        raise ValueError(f"bad task {arg}")
    if kind == "die":
        os._exit(3)
    if kind == "hang":
        time.sleep(600)
    if kind == "die_once":
        if not os.path.exists(arg):
            open(arg, "w").close()
            os._exit(4)
        return "second try"
    raise AssertionError(kind)


class deadline:  # noqa: N801 - used as a context manager, like a function
    """``with deadline(s):`` raises TimeoutError in the main thread after ``s`` seconds (SIGALRM),
    so a test of code that must never hang fails instead of hanging."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def _fire(self, *_):
        raise TimeoutError(f"still running after {self.seconds} s")

    def __enter__(self):
        import signal

        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        import signal

        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old)


def tiny_detector_checkpoint(
    path, mode: str = "rcnn", classes=("square", "disk"), seed: int = 0, resize_width: int | None = None, **head
):
    """Write an untrained but complete ``train_det`` checkpoint, small enough to run in
    milliseconds per region (a ``bn`` GoogLeNet on 32 px warps, or ``fast`` at 64 px), with
    selective search (at the original size, or ``resize_width``) as its proposal method."""
    import torch

    from detector.checkpoint import save_checkpoint
    from detector.rcnn.config import DetTrainConfig
    from detector.rcnn.predict import build_detector

    cfg = DetTrainConfig()
    cfg.model.variant = "bn"
    cfg.head.mode = mode
    cfg.head.input_size, cfg.head.context, cfg.head.image_size, cfg.head.roi_size = 32, 2.0, 64, 2
    for k, v in head.items():
        setattr(cfg.head, k, v)
    cfg.proposals.selective_search.resize_width = resize_width
    cfg.proposals.workers = 1
    torch.manual_seed(seed)
    model = build_detector(cfg, len(classes))
    return save_checkpoint(path, model.state_dict(), cfg, class_names=list(classes), display_names=list(classes))


def summary_lines(config) -> list[str]:
    """Lines a test adds to the end of pytest's report (printed by ``tests/conftest.py``)."""
    if not hasattr(config, "_summary_lines"):
        config._summary_lines = []
    return config._summary_lines


def write_photo(path, height: int, width: int, rect: tuple[int, int, int, int]):
    """A smooth random ``height x width`` picture with a red rectangle ``(x1, y1, x2, y2)``,
    written as PNG to ``path``; returns it as ``[H, W, 3]`` uint8 RGB."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (5, 5), 2)
    cv2.rectangle(img, rect[:2], rect[2:], (220, 40, 40), -1)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return img


FLOAT32_EPS = 2.0**-23  # torch.finfo(torch.float32).eps


def assert_same_function(got, want, layers: int, fan_in: int = 1024, what: str = ""):
    """``got`` and ``want`` (tensors or arrays) are one float32 function computed by two code
    paths that run its sums in another order: BatchNorm folded, 1x1s merged, ``channels_last``,
    batched against one at a time, onnxruntime against PyTorch, another CPU kernel or thread count.

    Reordering a float32 sum of ``n`` terms moves it by about ``sqrt(n) * eps`` of its terms'
    scale (rounding errors add like a random walk); each of ``layers`` layers adds its own, and
    a factor of 10 covers the worst of the kernels MKL and oneDNN pick on this CPU. So every
    element must lie within ``10 * layers * sqrt(fan_in) * eps * max|want|`` (8e-4 of the
    output's scale for GoogLeNet's 22 layers). A defect (a wrong fold, a lost bias, a swapped
    channel, a box in the wrong frame) moves outputs by a sizeable fraction of their scale."""
    import numpy as np

    got, want = (np.asarray(t.detach().cpu() if hasattr(t, "detach") else t, np.float64) for t in (got, want))
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = float(np.abs(want).max()) if want.size else 0.0
    tol = 10 * layers * fan_in**0.5 * FLOAT32_EPS * max(scale, 1e-30)
    err = float(np.abs(got - want).max()) if want.size else 0.0
    assert err <= tol, f"{what}: max |got - want| = {err:.3g} > {tol:.3g} (scale {scale:.3g}, {layers} layers)"
