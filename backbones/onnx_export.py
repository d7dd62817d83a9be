"""Exporting GoogLeNet-based networks to ONNX, and checking the files with onnxruntime.

:func:`export_onnx` runs ``torch.onnx.export`` (the ``torch.export``-based exporter) with the
batch dimension (and any other named one) dynamic, opset 18 by default (17 at least). LRN is
written as ONNX's ``LRN`` operator, as in the BVLC model zoo's graph, rather than the five-op
decomposition PyTorch's ``local_response_norm`` traces to: the module is swapped for one that
calls the custom op ``googlenet::lrn`` during export, translated by ``custom_translation_table``.
Every file records the input transform its graph starts with
(:data:`~backbones.onnx_weights.TRANSFORM_KEY` in ``metadata_props``), so that
:func:`~backbones.weights.load_weights` reads our own exports back exactly.

:func:`check_onnx` runs a written file with onnxruntime on the CPU and returns the largest
difference from PyTorch for each output.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from .googlenet import GoogLeNet
from .onnx_weights import TRANSFORM_KEY
from .transform import InputTransform

MIN_OPSET = 17
DEFAULT_OPSET = 18


@torch.library.custom_op("googlenet::lrn", mutates_args=())
def _lrn(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    return F.local_response_norm(x, size, alpha, beta, k)


@_lrn.register_fake
def _(x, size, alpha, beta, k):
    return torch.empty_like(x)


class _ExportLRN(nn.Module):
    """``nn.LocalResponseNorm`` as the one custom op the exporter writes as ONNX ``LRN``."""

    def __init__(self, m: nn.LocalResponseNorm):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = m.size, float(m.alpha), float(m.beta), float(m.k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _lrn(x, self.size, self.alpha, self.beta, self.k)


def _lrn_to_onnx(x, size: int, alpha: float, beta: float, k: float):
    from onnxscript import opset18 as op  # start-up cost: ~1.4 s, paid only by exports

    return op.LRN(x, size=size, alpha=alpha, beta=beta, bias=k)


@torch.library.custom_op("googlenet::global_avg_pool", mutates_args=())
def _global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    return x.mean((2, 3), keepdim=True)


@_global_avg_pool.register_fake
def _(x):
    return x.new_empty(x.shape[0], x.shape[1], 1, 1)


class _ExportGlobalPool(nn.Module):
    """``nn.AdaptiveAvgPool2d(1)`` as ONNX ``GlobalAveragePool`` (the exporter's ``ReduceMean``
    takes its axes as an input from opset 18 on, which blocks conversion to opset 17)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _global_avg_pool(x)


def _global_pool_to_onnx(x):
    from onnxscript import opset18 as op  # start-up cost: ~1.4 s, paid only by exports

    return op.GlobalAveragePool(x)


def _swap_ops(module: nn.Module) -> nn.Module:
    """Swap the modules whose traced form is not the one ONNX operator they are (see the doc)."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.LocalResponseNorm):
            setattr(module, name, _ExportLRN(child))
        elif isinstance(child, nn.AdaptiveAvgPool2d) and child.output_size in (1, (1, 1)):
            setattr(module, name, _ExportGlobalPool())
        else:
            _swap_ops(child)
    return module


_TRANSLATIONS = {"lrn": _lrn_to_onnx, "global_avg_pool": _global_pool_to_onnx}


def transform_metadata(model: nn.Module) -> dict[str, str]:
    """``{TRANSFORM_KEY: json}`` of the first :class:`~backbones.transform.InputTransform` in
    ``model`` (the one its graph starts with); ``{}`` when it has none."""
    step = next((m for m in model.modules() if isinstance(m, InputTransform)), None)
    if step is None:
        return {}
    return {TRANSFORM_KEY: json.dumps({k: v.tolist() for k, v in step.state_dict().items()})}


# INFO lines listing every rewrite rule applied (onnxscript, onnx_ir), and torch.export's
# warnings about shape formulas of the ceil-mode pools with a dynamic image size it cannot simplify
# (it keeps them exact; the trunk check at another image size proves the file right).
# (and, for opset 17, the notes that the model is converted down from 18; the version is checked).
_NOISY = {
    "onnxscript": logging.WARNING, "onnx_ir": logging.WARNING, "torch.fx.experimental.symbolic_shapes": logging.ERROR,
    "onnxscript.version_converter": logging.ERROR, "torch.onnx._internal.exporter._compat": logging.ERROR,
}  # fmt: skip


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress prints and the loggers in ``_NOISY`` for one export."""
    saved = {name: logging.getLogger(name).level for name in _NOISY}
    for name, level in _NOISY.items():
        logging.getLogger(name).setLevel(level)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def export_onnx(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: list[str],
    output_names: list[str],
    dynamic: dict[str, dict[int, str]],
    opset: int = DEFAULT_OPSET,
    metadata: dict[str, str] | None = None,
    starts_with_transform: bool = True,
) -> Path:
    """Export ``module`` (a copy of it, in eval mode, on the CPU) to ``path``.

    Args:
        inputs: example inputs (a batch of at least 2 along each dynamic batch axis).
        dynamic: ``{input name: {axis: dimension name}}``; other axes are fixed at the example's.
        opset: ONNX opset, at least :data:`MIN_OPSET`.
        metadata: extra ``metadata_props``.
        starts_with_transform: the graph takes images (record the module's input transform);
            False for a network that starts deeper (a detector's head).
    """
    import onnx  # start-up cost: ~0.7 s, paid only by exports

    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old: {MIN_OPSET} or later")
    net = _swap_ops(copy.deepcopy(module).cpu().float().eval())
    shapes = tuple({axis: torch.export.Dim.DYNAMIC for axis in dynamic.get(name, {})} for name in input_names)
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            net, tuple(x.cpu().float().contiguous() for x in inputs), dynamo=True, opset_version=opset,
            input_names=input_names, output_names=output_names, dynamic_shapes=shapes,
            custom_translation_table={getattr(torch.ops.googlenet, k).default: f for k, f in _TRANSLATIONS.items()},
            external_data=False,
        )  # fmt: skip
    proto = program.model_proto
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ValueError(f"the exporter wrote opset {written}, not the {opset} requested")
    for node in proto.graph.node:  # the exporter's per-node notes hold local paths and stack traces
        del node.metadata_props[:]
    recorded = transform_metadata(module) if starts_with_transform else {}
    for key, value in {**recorded, **(metadata or {})}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    for name, axes in dynamic.items():  # the exporter names dynamic axes s0, s1...: use ours
        for value in [*proto.graph.input, *proto.graph.output]:
            if value.name == name:
                for axis, dim in axes.items():
                    value.type.tensor_type.shape.dim[axis].dim_param = dim
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # a temporary file, synced, then renamed: a kill never leaves a torn .onnx
        onnx.save(proto, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def classifier_for_export(model: GoogLeNet) -> GoogLeNet:
    """An eval-mode copy without auxiliary heads: ``[N, 3, H, W]`` -> logits ``[N, classes]``."""
    net = copy.deepcopy(model).eval()
    net.aux1 = net.aux2 = None
    net.aux_logits = False
    return net


def export_classifier(model: GoogLeNet, path: str | Path, size: int = 224, opset: int = DEFAULT_OPSET) -> Path:
    """``model`` as ONNX: input ``images`` ``[N, 3, size, size]`` (our normalized RGB; the input
    transform is inside), output ``logits`` ``[N, classes]``; ``N`` dynamic."""
    x = torch.randn(2, 3, size, size)
    return export_onnx(classifier_for_export(model), (x,), path, ["images"], ["logits"], {"images": {0: "N"}}, opset)


def ort_session(path: str | Path, threads: int = 0):
    """An onnxruntime CPU session of ``path`` (``threads=0``: onnxruntime's default)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_session(session, *inputs: torch.Tensor) -> list[torch.Tensor]:
    """Run ``session`` on CPU tensors (in its input order); float32 tensors back."""
    feed = {
        i.name: np.ascontiguousarray(x.detach().cpu().float().numpy())
        for i, x in zip(session.get_inputs(), inputs, strict=True)
    }
    return [torch.from_numpy(np.asarray(y)) for y in session.run(None, feed)]


@torch.inference_mode()
def check_onnx(
    module: nn.Module, path: str | Path, inputs: tuple[torch.Tensor, ...], softmax: bool = False
) -> dict[str, float]:
    """The largest absolute difference between ``module(*inputs)`` and onnxruntime running
    ``path`` on the same inputs, per output name (``softmax``: of the outputs' softmax over
    dim 1, i.e. of a classifier's probabilities rather than its logits), relative to the
    output's scale where that exceeds 1: ``max |diff| / max(1, max |torch output|)``."""
    session = ort_session(path)
    ref = module.cpu().eval()(*inputs)
    ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    got = run_session(session, *inputs)
    names = [o.name for o in session.get_outputs()]
    post = (lambda t: t.float().softmax(1)) if softmax else (lambda t: t.float())  # noqa: E731
    names = [f"softmax({n})" for n in names] if softmax else names
    diffs = {}
    for n, r, g in zip(names, ref, got, strict=True):
        r, g = post(r), post(g)
        diffs[n] = ((r - g).abs().max() / r.abs().max().clamp(min=1)).item() if r.numel() else 0.0
    return diffs
