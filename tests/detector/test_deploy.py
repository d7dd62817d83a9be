"""ONNX export and onnxruntime inference: tools/export_onnx.py for a classifier (BVLC's file) and
both detector modes, Detector/infer/eval_det with --runtime onnxruntime against PyTorch."""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import pytest
import torch

from backbones import googlenet
from backbones.onnx_export import ort_session, run_session
from detector import Detector
from detector.data.images import to_tensor
from detector.deploy.export import detector_files
from detector.errors import UserError
from detector.rcnn.ensemble import Ensemble
from tests.backbones.zoo_graph import zoo_graph
from tests.detector.data.builders import write_voc
from tests.helpers import assert_same_function, run_tool, tiny_detector_checkpoint, write_photo

pytestmark = pytest.mark.numerics  # every test here compares two code paths or trains

CLASSES = ("a", "b", "c")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 72x96 picture and 40 proposals over it (xyxy pixels)."""
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    img = write_photo(path, 72, 96, (10, 10, 60, 50))
    rng = np.random.default_rng(1)
    xy, wh = rng.random((40, 2)) * [70, 50], rng.random((40, 2)) * 30 + 8
    return path, img, np.concatenate([xy, xy + wh], 1).astype(np.float32)


def _export(mode: str, factory):
    """A tiny detector of ``mode`` and its files written by tools/export_onnx.py; ``fast`` pools
    from two image scales, with dilated RoIs (the runtime resizes and pools as PyTorch does)."""
    root = factory.mktemp(f"export_{mode}")
    head = {"image_scales": (1.0, 2.0), "roi_dilation": 1.2} if mode == "fast" else {}
    ckpt = tiny_detector_checkpoint(root / "det.pth", mode, CLASSES, seed=2, **head)
    res = run_tool("export_onnx.py", "--ckpt", str(ckpt), "--out", str(root / "det.onnx"))
    assert res.returncode == 0, res.stderr
    return mode, ckpt, root / "det.onnx", res.stdout


@pytest.fixture(scope="module")
def rcnn(tmp_path_factory):
    return _export("rcnn", tmp_path_factory)


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    return _export("fast", tmp_path_factory)


@pytest.fixture(params=["rcnn", "fast"])
def exported(request):
    return request.getfixturevalue(request.param)


def test_export_writes_checked_files_with_dynamic_batch(exported):
    mode, _, out, stdout = exported
    files = detector_files(out, mode)
    assert sorted(p.name for p in out.parent.glob("*.onnx")) == sorted(p.name for p in files.values())
    lines = stdout.strip().splitlines()
    assert len(lines) == len(files) and all("onnxruntime matches PyTorch, max |diff|" in line for line in lines)
    for part, path in files.items():
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
        assert next(o.version for o in proto.opset_import if o.domain == "") >= 17
        first = proto.graph.input[0].type.tensor_type.shape.dim
        assert first[0].dim_param  # the batch is dynamic
        if part == "trunk":
            assert first[2].dim_param and first[3].dim_param  # and the image size
    outputs = [o.name for o in onnx.load(str(files["region" if mode == "rcnn" else "head"])).graph.output]
    assert outputs == ["probs", "deltas"]


def test_onnxruntime_detections_equal_pytorchs(exported, photo):
    mode, ckpt, out, _ = exported
    path, _, proposals = photo
    torch_det = Detector.load(ckpt, "cpu", score_thresh=0.0, max_dets=300)
    ort_det = Detector.load(ckpt, "cpu", score_thresh=0.0, max_dets=300, runtime="onnxruntime", onnx=out)
    a, b = torch_det(path, proposals=proposals), ort_det(path, proposals=proposals)
    assert len(a) == len(b) > 20
    order_a, order_b = np.lexsort(a.boxes.T), np.lexsort(b.boxes.T)
    assert_same_function(b.boxes[order_b], a.boxes[order_a], layers=22, what="boxes")  # onnxruntime's kernels
    np.testing.assert_array_equal(b.labels[order_b], a.labels[order_a])
    assert_same_function(b.scores[order_b], a.scores[order_a], layers=22, what="scores")
    # the region network itself: probabilities and deltas of every proposal
    x = to_tensor(photo[1])
    p_t, d_t = torch_det.ensemble.score(x, torch.from_numpy(proposals))
    p_o, d_o = ort_det.ensemble.score(x, torch.from_numpy(proposals))
    assert_same_function(p_o, p_t, layers=22, what="probabilities")
    assert_same_function(d_o, d_t, layers=22, what="deltas")
    # every view too: the flipped image through onnxruntime, its deltas mapped back
    views = [
        Ensemble(d.members, tta=("hflip", "rot90")).score(x, torch.from_numpy(proposals)) for d in (torch_det, ort_det)
    ]
    assert_same_function(views[1][0], views[0][0], layers=22, what="probabilities, 3 views")
    assert_same_function(views[1][1], views[0][1], layers=22, what="deltas, 3 views")
    assert not torch.allclose(views[0][0], p_t, atol=1e-4)


def test_ensemble_of_onnx_files_and_evaluation(rcnn, tmp_path):
    _, ckpt, out, _ = rcnn  # one mode is enough: the tools do not depend on it
    root = write_voc(
        tmp_path / "voc", "test", {"i1": (96, 72, [("a", 10, 10, 60, 50, 0)]), "i2": (80, 64, [("b", 5, 5, 40, 40, 0)])}
    )
    reports = {}
    for runtime, extra in (("torch", []), ("onnxruntime", ["--onnx", str(out), "--onnx", str(out)])):
        res = run_tool(
            "eval_det.py", "--ckpt", str(ckpt), "--ckpt", str(ckpt), "--data", str(root), "--split", "test",
            "--metric", "voc", "--proposals", str(tmp_path / "props"), "--out", str(tmp_path / f"{runtime}.json"),
            "--runtime", runtime, "--tta", "vflip", *extra,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        reports[runtime] = json.loads((tmp_path / f"{runtime}.json").read_text())
    assert reports["torch"]["num_detections"] == reports["onnxruntime"]["num_detections"] > 0
    assert reports["onnxruntime"]["mAP"] == pytest.approx(reports["torch"]["mAP"], abs=1e-6)


def test_infer_exports_at_load_and_prints_the_same_detections(rcnn, photo, tmp_path):
    _, ckpt, out, _ = rcnn
    runs = {}  # without --onnx, the network is exported when the checkpoint is loaded
    for runtime, extra in (("torch", []), ("onnxruntime", ["--runtime", "onnxruntime"])):
        res = run_tool(
            "infer.py",
            str(photo[0]),
            "--ckpt",
            str(ckpt),
            "--score-thresh",
            "0.2",
            "--out",
            str(tmp_path / runtime),
            *extra,
        )
        assert res.returncode == 0, res.stderr
        runs[runtime] = json.loads((tmp_path / runtime / "photo.json").read_text())["detections"]
    assert len(runs["torch"]) == len(runs["onnxruntime"]) > 0
    for a, b in zip(runs["torch"], runs["onnxruntime"], strict=True):
        assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-4)
        assert a["box"] == pytest.approx(b["box"], abs=1e-2)


def test_runtime_errors(rcnn, photo, tmp_path):
    _, ckpt, out, _ = rcnn
    path = photo[0]
    assert Detector.load(ckpt, runtime="onnxruntime", onnx=out).device.type == "cpu"
    other = tiny_detector_checkpoint(tmp_path / "other.pth", "rcnn", ("x", "y"))
    cases = [
        ({"onnx": out}, "onnx files are run with runtime='onnxruntime'"),
        ({"runtime": "onnxruntime", "device": "cuda"}, "runtime 'onnxruntime' runs on the CPU here"),
        ({"runtime": "onnxruntime", "onnx": [out, out]}, r"2 onnx file\(s\) for 1 checkpoint"),
        ({"runtime": "onnxruntime", "onnx": tmp_path / "none.onnx"}, "none.onnx: exported rcnn network not found"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UserError, match=message):
            Detector.load(ckpt, **kwargs)
    with pytest.raises(UserError, match="outputs 4 classes with deltas; the checkpoint has 3 with"):
        Detector.load(other, runtime="onnxruntime", onnx=out)
    res = run_tool("infer.py", str(path), "--ckpt", str(ckpt), "--onnx", str(out), "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and res.stderr.strip() == "error: onnx files are run with runtime='onnxruntime'"


@pytest.mark.slow
def test_export_bvlc_classifier_serves_the_same_probabilities(tmp_path):
    """tools/export_onnx.py on a BVLC ONNX file (zoo-shaped): the export takes our normalized RGB
    (the BVLC transform inside) and loads back as the same network with the same convention."""
    torch.manual_seed(0)
    source = googlenet("paper", aux_logits=False).eval()
    with torch.no_grad():
        for name, p in source.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
    zoo = tmp_path / "bvlc_googlenet.onnx"
    onnx.save(zoo_graph(source), str(zoo))
    res = run_tool("export_onnx.py", "--ckpt", str(zoo), "--out", str(tmp_path / "cls.onnx"), "--bvlc-mean", "zoo")
    assert res.returncode == 0, res.stderr
    assert "input bvlc (BGR 0-255, mean 103.939/116.779/123.68)" in res.stdout and "softmax(logits)" in res.stdout
    ours = googlenet("paper", aux_logits=False, weights=str(zoo), bvlc_mean="zoo").eval()
    x = torch.randn(3, 3, 224, 224)
    (logits,) = run_session(ort_session(tmp_path / "cls.onnx"), x)
    with torch.no_grad():
        assert (logits.softmax(1) - ours(x).softmax(1)).abs().max() <= 1e-4
        back = googlenet("paper", aux_logits=False, weights=str(tmp_path / "cls.onnx")).eval()
        assert back.input_transform.bvlc_mean == pytest.approx((103.939, 116.779, 123.68))
        assert torch.equal(back(x), ours(x))
    # eval_cls reads the BVLC file too (an ImageFolder whose folders are the first classes)
    for k, cls in enumerate(("n01440764", "n01443537")):
        (tmp_path / "val" / cls).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "val" / cls / "x.png"), np.full((60, 80, 3), 60 * k, np.uint8))
    res = run_tool(
        "eval_cls.py",
        "--data",
        str(tmp_path / "val"),
        "--ckpt",
        str(zoo),
        "--crops",
        "10",
        "--json",
        str(tmp_path / "e.json"),
    )
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["images"] == 2 and report["crops"] == 10 and report["models"] == ["bvlc_googlenet.onnx"]


def test_export_tool_errors(tmp_path):
    res = run_tool("export_onnx.py", "--ckpt", str(tmp_path / "missing.pth"), "--out", str(tmp_path / "x.onnx"))
    assert res.returncode == 2 and res.stderr.strip() == f"error: {tmp_path / 'missing.pth'}: checkpoint not found"
    res = run_tool("export_onnx.py", "--ckpt", "x.pth", "--out", str(tmp_path / "x.onnx"), "--opset", "13")
    assert res.returncode == 2 and "--opset must be 17 or later" in res.stderr
    res = run_tool("export_onnx.py", "--ckpt", "x.pth", "--out", str(tmp_path / "x.pt"))
    assert res.returncode == 2 and "x.pt: the output file must end in .onnx" in res.stderr
