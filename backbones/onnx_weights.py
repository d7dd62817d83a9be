"""Reading the paper network's weights from an ONNX file (BVLC GoogLeNet), by graph topology.

The ONNX model zoo's ``bvlc_googlenet`` (Caffe -> Caffe2 -> ONNX; opsets 3 to 12; input
``data_0``, output ``prob_0`` or ``softmaxout_1``; weights ``conv1/7x7_s2_w_0`` ...) is Table 1:
biased convolutions each followed by ReLU, LRN(5, 1e-4, 0.75, 1), a real 5x5, 3x3/2 max pools,
a 7x7 average pool, dropout, a 1024 -> 1000 ``Gemm`` and a softmax; no auxiliary heads.

Nothing is matched by name. The graph is walked forward from its image input along the data
flow (initializers, ``Constant`` outputs and what is computed from them and from ``Shape`` alone
are parameters, not data); where a tensor feeds several nodes, each branch is followed to the
``Concat`` that joins them: an Inception module, its branches in the Concat's input order. The
resulting sequence is compared, layer by layer, with the layers of
:class:`~backbones.googlenet.GoogLeNet` (``paper``): operator, kernel, stride, padding, LRN
constants and weight shapes. The first node that differs, in data-flow order (or the first
structure the walk cannot follow, such as a residual ``Add``), is named in a one-line
:class:`~backbones.errors.WeightsError`. Caffe's ceil-mode pools appear either as
``ceil_mode=1`` or as floor pools with pads ``[0, 0, 1, 1]``; for a 3x3/2 pool the two give the
same output at every input size, so both are accepted. ``Identity`` and ``Dropout`` are skipped
anywhere; ``Flatten``/``Reshape``/``Squeeze`` between the global pool and the classifier; a final
``Softmax``.

The input convention is BVLC's (BGR, 0-255, minus a BGR mean), unless the file was exported here
(:mod:`backbones.onnx_export`): its ``metadata_props`` then record the transform its graph starts
with, and the nodes before conv1 are that transform.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import WeightsError
from .googlenet import INCEPTION_SPECS, GoogLeNet
from .layers import BasicConv2d

TRANSFORM_KEY = "googlenet.input_transform"  # metadata_props entry written by our exporter
SKIP_ANYWHERE = {"Identity", "Dropout"}
SKIP_BEFORE_FC = {"Flatten", "Reshape", "Squeeze"}


@dataclass(frozen=True)
class Layer:
    """One expected layer: ``op`` with its checks; ``module`` for layers that hold weights."""

    op: str  # Conv, Relu, MaxPool, LRN, GlobalPool, Gemm, Inception
    module: str = ""
    conv: nn.Conv2d | None = None
    pool: tuple[int, int, int] = (0, 0, 0)  # kernel, stride, padding (MaxPool)
    branches: tuple[tuple[Layer, ...], ...] = ()

    def describe(self) -> str:
        if self.op == "Conv":
            c = self.conv
            return f"{self.module} (Conv {c.in_channels}->{c.out_channels}, {c.kernel_size[0]}x{c.kernel_size[1]}/{c.stride[0]})"
        if self.op == "MaxPool":
            return f"MaxPool {self.pool[0]}x{self.pool[0]}/{self.pool[1]}"
        return self.module or self.op


def _conv(name: str, unit: BasicConv2d) -> tuple[Layer, Layer]:
    return Layer("Conv", f"{name}.conv", unit.conv), Layer("Relu", f"{name} ReLU")


def expected_layers(model: GoogLeNet) -> list[Layer]:
    """The paper network's layers in data-flow order, Inception modules as branch lists."""
    pool2 = Layer("MaxPool", pool=(3, 2, 0))
    lrn = Layer("LRN")
    layers = [*_conv("conv1", model.conv1), pool2, lrn, *_conv("conv2", model.conv2), *_conv("conv3", model.conv3)]
    layers += [lrn, pool2]
    for name in INCEPTION_SPECS:
        if name in ("inception4a", "inception5a"):
            layers.append(pool2)
        b = getattr(model, name)
        branches = (
            _conv(f"{name}.branch1", b.branch1),
            (*_conv(f"{name}.branch2.0", b.branch2[0]), *_conv(f"{name}.branch2.1", b.branch2[1])),
            (*_conv(f"{name}.branch3.0", b.branch3[0]), *_conv(f"{name}.branch3.1", b.branch3[1])),
            (Layer("MaxPool", pool=(3, 1, 1)), *_conv(f"{name}.branch4.1", b.branch4[1])),
        )
        layers.append(Layer("Inception", name, branches=branches))
    return [*layers, Layer("GlobalPool", "the global average pool"), Layer("Gemm", "fc")]


@dataclass
class Item:
    """One step of the graph's data flow: a node; a join (``branches``: the node lists of the
    paths from the shared tensor to it, in its input order); or where the walk had to stop
    (``broken``: why)."""

    node: object  # onnx.NodeProto
    branches: list[list] | None = None
    broken: str = ""

    @property
    def op(self) -> str:
        return self.node.op_type


class _Graph:
    """An ONNX graph's data flow: parameters, static (shape-only) tensors, and each tensor's users."""

    def __init__(self, model, path: Path):
        from onnx import numpy_helper  # loaded with onnx by _load_onnx; kept off the module's start

        self.path = path
        g = model.graph
        self.nodes = list(g.node)
        self.params = {t.name: t for t in g.initializer}
        for n in self.nodes:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.params[n.output[0]] = n.attribute[0].t
        # Static: parameters, and what is computed from them and from shapes only (the Shape ->
        # Gather -> Concat -> Reshape chains of dynamic-shape exports). Nodes are in topological order.
        self.static = set(self.params)
        for n in self.nodes:
            if n.op_type in ("Shape", "Size") or all(i in self.static for i in n.input if i):
                self.static.update(n.output)
        self.users: dict[str, list] = {}
        for n in self.nodes:
            if not all(o in self.static for o in n.output):
                for i in self.data_inputs(n):
                    self.users.setdefault(i, []).append(n)
        self.inputs = [i.name for i in g.input if i.name not in self.params]
        self.to_array = numpy_helper.to_array

    def label(self, node) -> str:
        return f"node {node.name or node.output[0]!r} ({node.op_type})"

    def data_inputs(self, node) -> list[str]:
        return [i for i in node.input if i and i not in self.static]

    def attrs(self, node) -> dict:
        from onnx import helper  # loaded with onnx by _load_onnx; kept off the module's start

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def array(self, name: str) -> np.ndarray:
        return self.to_array(self.params[name])

    def fail(self, node, why: str) -> WeightsError:
        return WeightsError(f"{self.path}: {self.label(node)} does not match GoogLeNet (paper): {why}")

    def _branch(self, first) -> tuple[list, object | None]:
        """Follow a branch from its first node to the node that joins it with others:
        ``(nodes before the join, the join)``, or ``(nodes, None)`` when it forks or ends."""
        chain, n = [], first
        while len(self.data_inputs(n)) == 1:
            chain.append(n)
            nxt = self.users.get(n.output[0], [])
            if len(nxt) != 1:
                return chain, None
            n = nxt[0]
        return chain, n

    def sequence(self) -> list[Item]:
        """The data flow from the image input forward, in order (see the module doc); it stops
        with a ``broken`` item at the first structure that is not a chain of single-input nodes
        and Concat joins of parallel branches."""
        if len(self.inputs) != 1:
            raise WeightsError(f"{self.path}: expected one image input, found {len(self.inputs)} inputs")
        seq, t = [], self.inputs[0]
        while len(seq) <= len(self.nodes):
            users = self.users.get(t, [])
            if not users:
                return seq
            if len(users) == 1:
                node = users[0]
                if len(self.data_inputs(node)) != 1:
                    return [*seq, Item(node, broken=f"joins {len(self.data_inputs(node))} tensors on a single path")]
                seq.append(Item(node))
                t = node.output[0]
                continue
            paths = [self._branch(u) for u in users]
            joins = {id(j) for _, j in paths}
            join = paths[0][1]
            if None in (j for _, j in paths) or len(joins) != 1:
                chain, _ = next(p for p in paths if p[1] is None or p[1] is not join)
                where = chain[-1] if chain else users[0]
                return [*seq, Item(where, broken="its branches do not meet in one Concat")]
            inputs = self.data_inputs(join)
            if join.op_type != "Concat" or len(inputs) != len(paths):
                return [*seq, Item(join, broken=f"joins {len(inputs)} branches, not as an Inception Concat")]
            order = {name: k for k, name in enumerate(inputs)}
            paths.sort(key=lambda p: order.get(p[0][-1].output[0] if p[0] else t, -1))
            seq.append(Item(join, [chain for chain, _ in paths]))
            t = join.output[0]
        raise WeightsError(f"{self.path}: the graph has a cycle")


def _check_pool(graph: _Graph, node, layer: Layer) -> None:
    kernel, stride, pad = layer.pool
    a = graph.attrs(node)
    got_kernel, got_stride = list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1]))
    pads, ceil = list(a.get("pads", [0, 0, 0, 0])), a.get("ceil_mode", 0)
    if got_kernel != [kernel, kernel] or got_stride != [stride, stride]:
        raise graph.fail(node, f"expected {layer.describe()}, found kernel {got_kernel} stride {got_stride}")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise graph.fail(node, f"auto_pad {a['auto_pad']!r} is not supported")
    ok = (
        pads == [pad] * 4 and ceil in (0, 1)
        if stride == 1
        else (pads == [0] * 4 and ceil == 1) or (pads == [0, 0, 1, 1] and ceil == 0)
    )
    if not ok:
        raise graph.fail(node, f"pads {pads} with ceil_mode {ceil} differ from {layer.describe()} (ceil mode)")


def _check_lrn(graph: _Graph, node) -> None:
    a = graph.attrs(node)
    got = (a.get("size"), a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    if got[0] != 5 or not np.allclose(got[1:], (1e-4, 0.75, 1.0), rtol=1e-5, atol=0):
        raise graph.fail(node, f"LRN (size, alpha, beta, bias) = {got}, expected (5, 1e-4, 0.75, 1)")


def _conv_weights(graph: _Graph, node, layer: Layer) -> dict[str, torch.Tensor]:
    conv = layer.conv
    a = graph.attrs(node)
    w_name = node.input[1] if len(node.input) > 1 else ""
    b_name = node.input[2] if len(node.input) > 2 else ""  # optional: exporters drop an all-zero bias
    if w_name not in graph.params or (b_name and b_name not in graph.params):
        raise graph.fail(node, f"expected {layer.describe()} with constant weight and bias")
    w = graph.array(w_name)
    b = graph.array(b_name) if b_name else np.zeros(conv.out_channels, np.float32)
    k = conv.kernel_size[0]
    if list(w.shape) != list(conv.weight.shape) or list(b.shape) != [conv.out_channels]:
        raise graph.fail(node, f"weight {list(w.shape)}, bias {list(b.shape)}; expected {layer.describe()}")
    pads, pad = list(a.get("pads", [0, 0, 0, 0])), conv.padding[0]
    geometry = (list(a.get("strides", [1, 1])), pads, a.get("group", 1), list(a.get("dilations", [1, 1])))
    if geometry != ([conv.stride[0]] * 2, [pad] * 4, 1, [1, 1]) or list(a.get("kernel_shape", [k, k])) != [k, k]:
        raise graph.fail(
            node, f"strides/pads/group/dilations {geometry}; expected {layer.describe()} with padding {pad}"
        )
    return {
        f"{layer.module}.weight": torch.tensor(w, dtype=torch.float32),
        f"{layer.module}.bias": torch.tensor(b, dtype=torch.float32),
    }


def _gemm_weights(graph: _Graph, node) -> dict[str, torch.Tensor]:
    a = graph.attrs(node)
    names = [i for i in node.input[1:3] if i]  # the bias is optional (dropped when all zero)
    if node.op_type != "Gemm" or not names or any(i not in graph.params for i in names):
        raise graph.fail(node, "expected the classifier, a Gemm with constant weight and bias")
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise graph.fail(node, "expected a Gemm without transA, alpha or beta")
    w = graph.array(names[0])
    w = w if a.get("transB", 0) else w.T
    b = graph.array(names[1]) if len(names) > 1 else np.zeros(w.shape[0], np.float32)
    if w.ndim != 2 or w.shape[1] != 1024 or b.reshape(-1).shape[0] != w.shape[0]:
        raise graph.fail(node, f"classifier weight {list(w.shape)}; expected [classes, 1024]")
    return {
        "fc.weight": torch.tensor(w, dtype=torch.float32),
        "fc.bias": torch.tensor(b.reshape(-1), dtype=torch.float32),
    }


class _Matcher:
    """Compares the graph's items with the expected layers in order, collecting the weights."""

    def __init__(self, graph: _Graph):
        self.g = graph
        self.state: dict[str, torch.Tensor] = {}

    def chain(self, nodes: list, layers: tuple[Layer, ...], where: str) -> None:
        items = [Item(n) for n in nodes if n.op_type not in SKIP_ANYWHERE]
        for i, layer in enumerate(layers):
            if i >= len(items):
                raise WeightsError(f"{self.g.path}: {where} ends before {layer.describe()}")
            self.one(items[i], layer)
        if len(items) > len(layers):
            raise self.g.fail(items[len(layers)].node, f"an extra layer after {layers[-1].describe()} in {where}")

    def one(self, item: Item, layer: Layer) -> None:
        g, node, op = self.g, item.node, item.op
        if item.broken:
            raise g.fail(node, f"{item.broken}; expected {layer.describe()}")
        if layer.op == "Inception":
            if item.branches is None:
                raise g.fail(node, f"expected the Inception module {layer.module} (a Concat of 4 branches)")
            if len(item.branches) != 4 or g.attrs(node).get("axis", 1) not in (1, -3):
                raise g.fail(
                    node, f"expected {layer.module}: 4 branches joined on channels, found {len(item.branches)}"
                )
            for k, (nodes, expected) in enumerate(zip(item.branches, layer.branches, strict=True)):
                self.chain(nodes, expected, f"{layer.module} branch {k + 1}")
            return
        if item.branches is not None:
            raise g.fail(node, f"expected {layer.describe()}, found a Concat of {len(item.branches)} branches")
        if layer.op == "GlobalPool":
            if op == "GlobalAveragePool":
                return
            if op == "AveragePool" and list(g.attrs(node).get("kernel_shape", [])) == [7, 7]:
                return  # Caffe's pool5/7x7_s1: the global pool at 224 input
            axes = g.attrs(node).get("axes")  # opset < 18; from 18 on a constant second input
            if axes is None and len(node.input) > 1 and node.input[1] in g.params:
                axes = list(g.array(node.input[1]))
            if op == "ReduceMean" and axes is not None and sorted(int(x) % 4 for x in axes) == [2, 3]:
                return
            raise g.fail(node, "expected the global average pool (7x7 AveragePool, GlobalAveragePool or ReduceMean)")
        if op != layer.op:
            raise g.fail(node, f"expected {layer.describe()}")
        if op == "Conv":
            self.state.update(_conv_weights(g, node, layer))
        elif op == "MaxPool":
            _check_pool(g, node, layer)
        elif op == "LRN":
            _check_lrn(g, node)


def _load_onnx(path: Path):
    try:
        import onnx  # start-up cost: ~0.7 s, paid only when an ONNX file is read
    except ImportError:  # pragma: no cover - a dependency of the package
        raise WeightsError(f"{path}: reading ONNX files needs the 'onnx' package (pip install onnx)") from None
    if not path.is_file():
        raise WeightsError(f"{path}: ONNX file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
        if not model.graph.node:
            raise ValueError("the graph has no nodes")
    except Exception as e:  # noqa: BLE001 - any decoding failure is the file's fault
        reason = " ".join(str(e).split()) or type(e).__name__
        raise WeightsError(f"{path}: not a readable ONNX model ({reason[:160]})") from None
    return model


def read_onnx_googlenet(model: GoogLeNet, path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Map ``path``'s Conv and Gemm weights onto ``model``'s names by topology (module doc).

    Returns ``(state dict of the trunk and fc, transform)`` where ``transform`` is the
    ``InputTransform`` state recorded by our exporter (``{"order", "scale", "shift"}``) or
    ``None`` for BVLC's convention. Raises :class:`WeightsError` naming the first node that
    differs from ``model`` (which must be the ``paper`` variant).
    """
    path = Path(path)
    proto = _load_onnx(path)
    graph = _Graph(proto, path)
    meta = {p.key: p.value for p in proto.metadata_props}
    transform = json.loads(meta[TRANSFORM_KEY]) if TRANSFORM_KEY in meta else None
    seq = [item for item in graph.sequence() if item.op not in SKIP_ANYWHERE or item.broken]
    if transform is not None:  # our export: its recorded input transform comes before conv1
        first_conv = next((i for i, it in enumerate(seq) if it.op == "Conv" or it.broken or it.branches), len(seq))
        seq = seq[first_conv:]
    matcher = _Matcher(graph)
    layers = expected_layers(model)
    for k, layer in enumerate(layers[:-1]):
        if k >= len(seq):
            raise WeightsError(f"{path}: the graph ends before {layer.describe()}")
        matcher.one(seq[k], layer)
    rest = [it for it in seq[len(layers) - 1 :] if it.op not in SKIP_BEFORE_FC or it.broken or it.branches]
    if not rest:
        raise WeightsError(f"{path}: the graph ends before the classifier (fc)")
    if rest[0].broken or rest[0].branches is not None:
        raise graph.fail(rest[0].node, f"{rest[0].broken or 'a Concat'}; expected the classifier (fc)")
    matcher.state.update(_gemm_weights(graph, rest[0].node))  # the class count is checked by load_weights
    tail = rest[1:]
    if tail and not (len(tail) == 1 and tail[0].op == "Softmax" and not tail[0].broken):
        raise graph.fail(tail[0].node, "expected nothing but a Softmax after the classifier")
    return matcher.state, transform


def onnx_num_classes(path: str | Path) -> int:
    """The number of classes of an ONNX GoogLeNet: the rows of its last ``Gemm``'s weight."""
    path = Path(path)
    graph = _Graph(_load_onnx(path), path)
    gemms = [n for n in graph.nodes if n.op_type == "Gemm" and len(n.input) > 1 and n.input[1] in graph.params]
    if not gemms:
        raise WeightsError(f"{path}: the graph has no Gemm classifier; not a GoogLeNet classifier")
    shape = graph.params[gemms[-1].input[1]].dims
    return int(shape[0] if graph.attrs(gemms[-1]).get("transB", 0) else shape[-1])
