"""BVLC GoogLeNet from ONNX: loading a zoo-shaped graph by topology, exact against onnxruntime."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper

from backbones import CAFFE_MEAN, ZOO_MEAN, WeightsError, for_inference, googlenet, load_weights
from backbones.onnx_export import export_classifier
from tests.backbones.zoo_graph import bvlc_input, zoo_graph

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _picture() -> np.ndarray:
    """A 224x224 uint8 RGB picture with smooth structure (what an image's crop looks like)."""
    rng = np.random.default_rng(3)
    coarse = rng.random((8, 8, 3))
    up = np.kron(coarse, np.ones((28, 28, 1)))
    return np.clip(up * 200 + rng.normal(0, 20, up.shape) + 20, 0, 255).astype(np.uint8)


def _bvlc_like_model(classes: int = 1000, seed: int = 0, transform: str = "bvlc"):
    """A random paper GoogLeNet with nonzero biases whose logits on the test picture (taken
    with ``transform``) spread over a few units: a peaked but not one-hot softmax."""
    torch.manual_seed(seed)
    model = googlenet("paper", classes, aux_logits=False, transform_input=transform).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
        model.fc.weight.mul_(2.5 / model(_ours(_picture())).std())
    return model


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return _picture()


def _ours(picture: np.ndarray) -> torch.Tensor:
    """The picture as every model here takes it: RGB [0, 1], ImageNet mean/std, ``[1, 3, H, W]``."""
    x = (picture.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


@pytest.fixture(scope="module")
def zoo_file(tmp_path_factory):
    model = _bvlc_like_model()
    path = tmp_path_factory.mktemp("zoo") / "bvlc_googlenet.onnx"
    onnx.save(zoo_graph(model, reverse_branches=True), str(path))
    return model, path


def _onnxruntime_probs(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"data_0": x})[0]


@pytest.mark.parametrize("mean_name, mean", [("caffe", CAFFE_MEAN), ("zoo", ZOO_MEAN)])
def test_zoo_graph_gives_onnxruntimes_probabilities(zoo_file, picture, mean_name, mean):
    _, path = zoo_file
    kwargs = {} if mean_name == "caffe" else {"bvlc_mean": "zoo"}  # Caffe's is the default
    ours = googlenet("paper", aux_logits=False, weights=str(path), **kwargs).eval()
    assert ours.input_transform.kind == "bvlc" and ours.input_transform.bvlc_mean == pytest.approx(mean)
    want = _onnxruntime_probs(path, bvlc_input(picture, mean))[0]
    with torch.no_grad():
        got = ours(_ours(picture)).softmax(1)[0].numpy()
    assert want.max() > 0.05 and want.min() < 1e-5  # a peaked distribution: the comparison is meaningful
    # probabilities lie in [0, 1], so an absolute bound is one relative to their scale: 1e-4 is
    # tighter than assert_same_function's for 22 layers at any top probability over 0.12, and the
    # other mean must move them by more (below); the log compares the small ones too
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.log(got), np.log(want), atol=2e-3)  # the small probabilities too
    # The other mean is a different input: the probabilities move by more than the tolerance.
    other = ZOO_MEAN if mean_name == "caffe" else CAFFE_MEAN
    assert np.abs(_onnxruntime_probs(path, bvlc_input(picture, other))[0] - got).max() > 1e-4


@pytest.mark.parametrize("shape_from_input", [False, True])
def test_zoo_graph_maps_by_topology_onto_the_same_weights(zoo_file, tmp_path, shape_from_input):
    source, path = zoo_file
    if shape_from_input:  # a Reshape whose target comes from Shape(x): shape computations are not data
        path = tmp_path / "dynamic.onnx"
        onnx.save(zoo_graph(source, shape_from_input=True), str(path))
    ours = googlenet("paper", aux_logits=False, weights=str(path))
    own = ours.state_dict()
    for k, v in source.state_dict().items():
        if not k.startswith("input_transform."):
            assert torch.equal(own[k], v), k


def test_transform_survives_checkpoint_for_inference_and_detector_trunk(zoo_file, picture, tmp_path):
    from detector.checkpoint import save_checkpoint
    from detector.rcnn.config import DetTrainConfig
    from detector.rcnn.predict import build_detector, load_detector

    _, path = zoo_file
    ours = googlenet("paper", aux_logits=False, weights=str(path), bvlc_mean="zoo").eval()
    x = _ours(picture)
    with torch.no_grad():
        ref = ours(x)
    # a checkpoint of ours, read into a model built without the transform
    torch.save({"model": ours.state_dict()}, tmp_path / "cls.pth")
    back = googlenet("paper", aux_logits=False, weights=str(tmp_path / "cls.pth")).eval()
    assert back.input_transform.bvlc_mean == pytest.approx(ZOO_MEAN)
    with torch.inference_mode():
        assert torch.equal(back(x), ref)
        assert (for_inference(back)(x) - ref).abs().max() <= 1e-5 * ref.abs().max()
    # a detector started from the ONNX file (the config's init), saved and loaded again
    cfg = DetTrainConfig()
    cfg.model.variant, cfg.init, cfg.model.bvlc_mean = "paper", str(path), ZOO_MEAN
    det = build_detector(cfg, 3)
    assert det.backbone.input_transform.bvlc_mean == pytest.approx(ZOO_MEAN)
    save_checkpoint(tmp_path / "det.pth", det.state_dict(), cfg, class_names=["a", "b", "c"])
    loaded = load_detector(tmp_path / "det.pth", torch.device("cpu")).model
    assert loaded.backbone.net.input_transform.bvlc_mean == pytest.approx(ZOO_MEAN)
    with torch.inference_mode():
        feats = loaded.backbone.forward_features(x, ("inception_4e",))["inception_4e"]
        want = ours.forward_features(x, ("inception_4e",))["inception_4e"]
    assert (feats - want).abs().max() <= 1e-5 * want.abs().max()  # float rounding of the merged 1x1s


def test_state_dicts_without_the_transform_keep_the_models(tmp_path):
    """torchvision's files and checkpoints written before the transform existed have no
    input_transform.* entries: the model's own convention stays (and strict loading works)."""
    model = googlenet("bn", aux_logits=False, transform_input=True)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("input_transform.")}
    fresh = googlenet("bn", aux_logits=False, transform_input=True)
    fresh.load_state_dict(state)  # strict
    assert fresh.input_transform.kind == "torchvision"
    plain = googlenet("bn", aux_logits=False)
    plain.load_state_dict(state)
    assert plain.input_transform.kind == "none"


def test_missing_auxiliary_heads_are_logged(zoo_file, caplog):
    _, path = zoo_file
    with caplog.at_level(logging.INFO, logger="backbones"):
        model = googlenet("paper", aux_logits=True, weights=str(path))
    assert model.aux1 is not None
    assert any("no auxiliary heads" in r.message and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.slow
def test_our_export_loads_back_with_identical_logits(tmp_path, picture):
    model = _bvlc_like_model(classes=10, seed=1, transform="none")
    path = export_classifier(model, tmp_path / "ours.onnx")
    names = {i.name for i in onnx.load(str(path)).graph.initializer}
    assert "conv1/7x7_s2_w_0" not in names and "data_0" not in names  # not the zoo's names
    back = googlenet("paper", 10, aux_logits=False, weights=str(path)).eval()
    assert back.input_transform.kind == "none"  # recorded by the export, not taken for BVLC's
    x = torch.cat([_ours(picture), torch.randn(2, 3, 224, 224)])
    with torch.no_grad():
        assert torch.equal(back(x), model(x))


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_truncated_file_is_one_line(zoo_file, tmp_path):
    _, path = zoo_file
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[:1_000_000])
    with pytest.raises(WeightsError) as e:
        googlenet("paper", weights=str(cut))
    assert _one_line(e).startswith(f"{cut}: not a readable ONNX model")


def test_another_network_names_the_first_node_that_differs(tmp_path):
    """An Inception-v3-like stem: conv 3x3/2 to 32 channels where conv1 (7x7/2 to 64) belongs."""
    w = onnx.numpy_helper.from_array(np.zeros((32, 3, 3, 3), np.float32), "Conv2d_1a_3x3.weight")
    nodes = [
        helper.make_node(
            "Conv", ["x", "Conv2d_1a_3x3.weight"], ["c"], kernel_shape=[3, 3], strides=[2, 2], name="Conv2d_1a"
        ),
        helper.make_node("Relu", ["c"], ["y"], name="relu_1a"),
    ]
    graph = helper.make_graph(
        nodes, "v3", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 299, 299])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], [w],
    )  # fmt: skip
    path = tmp_path / "inception_v3.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(WeightsError) as e:
        googlenet("paper", weights=str(path))
    assert "node 'Conv2d_1a' (Conv)" in _one_line(e) and "conv1.conv" in str(e.value)


def test_a_residual_join_is_named_where_it_appears(tmp_path):
    """A ResNet-like block after a matching stem: the walk stops at the Add (the first node that
    does not fit), not at anything later."""
    model = googlenet("paper", aux_logits=False)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    init = [onnx.numpy_helper.from_array(sd[k], k) for k in ("conv1.conv.weight", "conv1.conv.bias")]
    init.append(onnx.numpy_helper.from_array(np.zeros((64, 64, 3, 3), np.float32), "res.weight"))
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "conv1.conv.weight", "conv1.conv.bias"],
            ["c1"],
            kernel_shape=[7, 7],
            pads=[3] * 4,
            strides=[2, 2],
        ),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("Conv", ["p1", "res.weight"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Add", ["c2", "p1"], ["y"], name="residual_add"),
    ]
    graph = helper.make_graph(
        nodes, "res", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], init,
    )  # fmt: skip
    path = tmp_path / "resnet_like.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(WeightsError) as e:
        googlenet("paper", weights=str(path))
    assert _one_line(e) == (
        f"{path}: node 'residual_add' (Add) does not match GoogLeNet (paper): "
        "joins 2 branches, not as an Inception Concat; expected LRN"
    )


@pytest.mark.slow
def test_torchvision_layout_export_is_refused_at_its_first_difference(tmp_path):
    """torchvision's structure (BatchNorm, no LRN) exported to ONNX: the paper variant expects
    LRN after the first pool; the bn variant cannot take ONNX weights at all."""
    bn = googlenet("bn", aux_logits=False).eval()
    path = export_classifier(bn, tmp_path / "tv.onnx")
    with pytest.raises(WeightsError) as e:
        googlenet("paper", weights=str(path))
    nodes = list(onnx.load(str(path)).graph.node)
    after_pool = nodes[[n.op_type for n in nodes].index("MaxPool") + 1]  # conv2 (BN folded into it)
    assert _one_line(e) == f"{path}: node '{after_pool.name}' (Conv) does not match GoogLeNet (paper): expected LRN"
    with pytest.raises(WeightsError, match="gives the 'paper' variant"):
        googlenet("bn", weights=str(path))


def test_wrong_layout_pth_is_one_line(tmp_path):
    torch.save(
        {"layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3), "fc.weight": torch.zeros(1000, 512)}, tmp_path / "r.pth"
    )
    model = googlenet("paper")
    with pytest.raises(WeightsError) as e:
        load_weights(model, tmp_path / "r.pth")
    assert _one_line(e).startswith(f"{tmp_path / 'r.pth'}: does not match googlenet variant 'paper'")
