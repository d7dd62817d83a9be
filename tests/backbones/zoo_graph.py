"""A graph shaped like the ONNX model zoo's ``bvlc_googlenet``, built with ``onnx.helper``.

The zoo's file (Caffe -> Caffe2 -> ONNX) names its tensors after the Caffe layers
(``conv1/7x7_s2_w_0``, input ``data_0``, output ``prob_0``), pads Caffe's ceil-mode max pools as
``[0, 0, 1, 1]``, normalizes with LRN(5, 1e-4, 0.75, 1), pools 7x7, has a Dropout, a Reshape and
a ``Gemm`` with ``transB`` and ends in a Softmax; it takes BGR 0-255 minus a mean. The weights
here come from a PyTorch paper GoogLeNet (written under the zoo's names), so tests can compare.
Nothing of our loader is used to build it.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INCEPTIONS = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


def zoo_graph(
    model, opset: int = 12, reverse_branches: bool = False, shape_from_input: bool = False
) -> onnx.ModelProto:
    """The zoo-shaped graph of ``model`` (a ``paper`` GoogLeNet). ``reverse_branches`` lists each
    Inception module's branch nodes in reverse order (the data flow is unchanged);
    ``shape_from_input`` computes the Reshape's target from the tensor's Shape, as dynamic-batch
    exports do, instead of the zoo's constant ``OC2_DUMMY_1``."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    nodes, inits = [], []

    def conv(x, ours, caffe, pad, stride=1):
        w, b = f"{caffe}_w_0", f"{caffe}_b_0"
        inits.extend(
            [numpy_helper.from_array(sd[f"{ours}.conv.weight"], w), numpy_helper.from_array(sd[f"{ours}.conv.bias"], b)]
        )
        k = sd[f"{ours}.conv.weight"].shape[-1]
        out = []
        out.append(
            helper.make_node(
                "Conv", [x, w, b], [f"{caffe}_1"], kernel_shape=[k, k], pads=[pad] * 4, strides=[stride] * 2
            )
        )
        out.append(helper.make_node("Relu", [f"{caffe}_1"], [f"{caffe}_2"]))
        return out, f"{caffe}_2"

    def maxpool(x, name, stride, pads):
        return helper.make_node("MaxPool", [x], [name], kernel_shape=[3, 3], strides=[stride] * 2, pads=pads), name

    def lrn(x, name):
        return helper.make_node("LRN", [x], [name], size=5, alpha=1e-4, beta=0.75, bias=1.0), name

    ns, x = conv("data_0", "conv1", "conv1/7x7_s2", 3, 2)
    nodes += ns
    n, x = maxpool(x, "pool1/3x3_s2_1", 2, [0, 0, 1, 1])
    nodes.append(n)
    n, x = lrn(x, "pool1/norm1_1")
    nodes.append(n)
    for ours, caffe, pad in (("conv2", "conv2/3x3_reduce", 0), ("conv3", "conv2/3x3", 1)):
        ns, x = conv(x, ours, caffe, pad)
        nodes += ns
    n, x = lrn(x, "conv2/norm2_1")
    nodes.append(n)
    n, x = maxpool(x, "pool2/3x3_s2_1", 2, [0, 0, 1, 1])
    nodes.append(n)
    for tag in INCEPTIONS:
        if tag in ("4a", "5a"):
            n, x = maxpool(x, f"pool{3 + (tag == '5a')}/3x3_s2_1", 2, [0, 0, 1, 1])
            nodes.append(n)
        ours, caffe = f"inception{tag}", f"inception_{tag}"
        b1, o1 = conv(x, f"{ours}.branch1", f"{caffe}/1x1", 0)
        b2a, r2 = conv(x, f"{ours}.branch2.0", f"{caffe}/3x3_reduce", 0)
        b2b, o2 = conv(r2, f"{ours}.branch2.1", f"{caffe}/3x3", 1)
        b3a, r3 = conv(x, f"{ours}.branch3.0", f"{caffe}/5x5_reduce", 0)
        b3b, o3 = conv(r3, f"{ours}.branch3.1", f"{caffe}/5x5", 2)
        p4, r4 = maxpool(x, f"{caffe}/pool_1", 1, [1, 1, 1, 1])
        b4, o4 = conv(r4, f"{ours}.branch4.1", f"{caffe}/pool_proj", 0)
        branches = [b1, b2a + b2b, b3a + b3b, [p4, *b4]]
        for branch in reversed(branches) if reverse_branches else branches:
            nodes += branch
        nodes.append(helper.make_node("Concat", [o1, o2, o3, o4], [f"{caffe}/output_1"], axis=1))
        x = f"{caffe}/output_1"
    nodes.append(helper.make_node("AveragePool", [x], ["pool5/7x7_s1_1"], kernel_shape=[7, 7], strides=[1, 1]))
    nodes.append(helper.make_node("Dropout", ["pool5/7x7_s1_1"], ["pool5/7x7_s1_2", "_mask"]))
    if shape_from_input:  # [N, -1] from Shape(x)[0]
        inits += [
            numpy_helper.from_array(np.array(0, np.int64), "zero"),
            numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
        ]
        nodes += [
            helper.make_node("Shape", ["pool5/7x7_s1_2"], ["shape"]),
            helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
            helper.make_node("Unsqueeze", ["batch"], ["batch1"], axes=[0]),
            helper.make_node("Concat", ["batch1", "minus1"], ["OC2_DUMMY_1"], axis=0),
        ]
    else:
        inits.append(numpy_helper.from_array(np.array([1, 1024], np.int64), "OC2_DUMMY_1"))
    nodes.append(helper.make_node("Reshape", ["pool5/7x7_s1_2", "OC2_DUMMY_1"], ["OC2_DUMMY_0"]))
    inits += [
        numpy_helper.from_array(sd["fc.weight"], "loss3/classifier_w_0"),  # [1000, 1024]: transB
        numpy_helper.from_array(sd["fc.bias"], "loss3/classifier_b_0"),
    ]
    nodes.append(
        helper.make_node(
            "Gemm", ["OC2_DUMMY_0", "loss3/classifier_w_0", "loss3/classifier_b_0"], ["loss3/classifier_1"], transB=1
        )
    )
    nodes.append(helper.make_node("Softmax", ["loss3/classifier_1"], ["prob_0"], axis=1))
    k = sd["fc.weight"].shape[0]
    graph = helper.make_graph(
        nodes,
        "googlenet",
        [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("prob_0", TensorProto.FLOAT, [1, k])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx-caffe2")
    proto.ir_version = 7
    onnx.checker.check_model(proto)
    return proto


def bvlc_input(picture: np.ndarray, bgr_mean) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB -> ``[1, 3, H, W]`` float32 the BVLC way: BGR, 0-255, minus the
    BGR mean (the zoo's model card: subtract the mean per channel, then flip RGB to BGR)."""
    x = picture.astype(np.float32)[:, :, ::-1] - np.asarray(bgr_mean, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
