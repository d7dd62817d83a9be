"""Inputs that must never crash the pipeline, through every tool and the API: images with zero
proposals (1x1, 240x8, blank), images without objects, a class absent from the validation split,
boxes partly or wholly outside the image, a very large image, two inputs with one file stem, a
file whose extension lies, and an unreadable image in the middle of a folder. Each gives a
result, or a one-line message naming the file; never a traceback."""

import json
import shutil

import cv2
import numpy as np
import pytest

from detector.api import Detector
from detector.data.images import ImageError, read_image
from tests.detector.data.builders import voc_xml
from tests.detector.rcnn.conftest import train_det, write_trivial_voc
from tests.helpers import ROOT, run_tool, tiny_detector_checkpoint

FAST_MB_CONFIG = ROOT / "configs" / "demo_multibox.yaml"

AWKWARD = {  # stem -> (file name, image or bytes, (w, h) in the XML, objects (name, x1, y1, x2, y2, difficult))
    "a_tiny": ("a_tiny.png", np.full((1, 1, 3), 200, np.uint8), (1, 1), []),
    "b_thin": ("b_thin.jpg", None, (240, 8), [("square", 10, 1, 30, 12, 0)]),  # partly below the image
    "c_blank": ("c_blank.jpg", np.full((96, 96, 3), 128, np.uint8), (96, 96), []),
    "d_outside": ("d_outside.jpg", None, (96, 96), [("square", 80, 10, 120, 40, 0), ("disk", 200, 10, 220, 30, 0)]),
    "e_lies": ("e_lies.jpg", "png", (96, 96), [("disk", 20, 20, 50, 50, 0)]),  # PNG bytes under .jpg
    "m_broken": ("m_broken.jpg", b"\xff\xd8 this is no JPEG", (96, 96), [("square", 5, 5, 30, 30, 0)]),
    "t_triangle": ("t_triangle.jpg", None, (96, 96), [("triangle", 30, 30, 70, 70, 0)]),  # train only
}
TRAIN_EXTRA = list(AWKWARD)
VAL_EXTRA = ["a_tiny", "b_thin", "c_blank", "m_broken"]


def _image(stem: str, rng) -> np.ndarray:
    if stem == "b_thin":
        return np.clip(rng.normal(128, 20, (8, 240, 3)), 0, 255).astype(np.uint8)
    img = np.clip(rng.normal(128, 12, (96, 96, 3)), 0, 255).astype(np.uint8)
    if stem == "t_triangle":
        cv2.fillPoly(img, [np.array([[30, 69], [69, 69], [50, 30]])], (30, 200, 30))
    else:
        cv2.circle(img, (35, 35), 15, (30, 30, 220), -1)
        cv2.rectangle(img, (80, 10), (95, 40), (220, 30, 30), -1)
    return img


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    root = write_trivial_voc(tmp_path_factory.mktemp("awkward") / "voc", n_train=8, n_val=4)
    rng = np.random.default_rng(3)
    for stem, (name, content, (w, h), objects) in AWKWARD.items():
        path = root / "JPEGImages" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):  # "png"
            ok, data = cv2.imencode(".png", _image(stem, rng))
            path.write_bytes(data.tobytes())
        else:
            cv2.imwrite(str(path), content if content is not None else _image(stem, rng))
        (root / "Annotations" / f"{stem}.xml").write_text(voc_xml(name, w, h, objects))
    for split, extra in (("train", TRAIN_EXTRA), ("val", VAL_EXTRA)):
        ids = (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(sorted(ids + extra)) + "\n")
    return root


@pytest.fixture(scope="module")
def proposals(awkward, tmp_path_factory):
    out = tmp_path_factory.mktemp("awk_props") / "props"
    res = run_tool("proposals.py", "--data", str(awkward), "--split", "train", "--out", str(out),
                   "--workers", "2", "--resize-width", "0", "--k-scale", "2")  # fmt: skip
    return out, res


def test_proposals_skip_and_name_the_unreadable_image(proposals):
    out, res = proposals
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert "error: " in res.stderr and "m_broken.jpg: cannot be read as an image, skipped" in res.stderr
    assert "14 images computed" in res.stdout and "1 failed" in res.stdout
    cached = {p.stem for p in (out / "boxes").glob("*.npz")}
    assert "m_broken" not in cached and {"a_tiny", "b_thin", "c_blank", "e_lies"} <= cached
    assert len(np.load(out / "boxes" / "a_tiny.npz")["boxes"]) == 0  # a 1x1 image has no proposal


def test_eval_proposals_leaves_out_and_names_the_missing_image(awkward, proposals):
    res = run_tool("eval_proposals.py", "--data", str(awkward), "--split", "train", "--proposals", str(proposals[0]))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert "m_broken.jpg: no proposals in" in res.stderr and "14 images" in res.stdout


@pytest.fixture(scope="module")
def trained(awkward, proposals, tmp_path_factory):
    out = tmp_path_factory.mktemp("awk_det") / "run"
    res = train_det(awkward, out, "optim.epochs=1", "--proposals", str(proposals[0]))
    return out, res


def test_train_det_runs_through_every_awkward_image(trained):
    out, res = trained
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "skipped 1 unreadable images (e.g. " in res.stdout and "m_broken.jpg" in res.stdout
    assert "box outside the image clipped" in res.stdout and "box entirely outside the image dropped" in res.stdout
    assert (out / "final.pth").is_file()


def test_train_multibox_runs_through_every_awkward_image(awkward, tmp_path):
    res = run_tool(
        "train_multibox.py", "--config", str(FAST_MB_CONFIG), "--data", str(awkward), "--train-split", "train",
        "--val-split", "val", "--out", str(tmp_path / "mb"),
        "--opts", "optim.epochs=1", "num_priors=4", "data.input_size=32", "data.workers=0",
        "optim.batch_size=4", "device=cpu", "amp=false", "log_every=1",
    )  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "skipped" in res.stdout and "m_broken.jpg" in res.stdout


def test_eval_det_scores_the_rest_and_exits_1(awkward, trained, proposals, tmp_path):
    out, _ = trained
    report = tmp_path / "report.json"
    res = run_tool("eval_det.py", "--ckpt", str(out / "final.pth"), "--data", str(awkward), "--split", "val",
                   "--metric", "voc", "--out", str(report), "--proposals", str(tmp_path / "val_props"))  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "m_broken.jpg" in res.stderr and "skipped" in res.stderr
    rep = json.loads(report.read_text())
    assert rep["per_class"]["triangle"] is None and rep["num_gt"]["triangle"] == 0  # no val instance
    assert rep["num_images"] == 8 and 0.0 <= rep["mAP"] <= 1.0


def test_infer_on_a_folder_goes_past_the_broken_image(awkward, trained, tmp_path):
    out, _ = trained
    res = run_tool("infer.py", str(awkward / "JPEGImages"), "--ckpt", str(out / "final.pth"), "--out",
                   str(tmp_path / "drawn"), "--score-thresh", "0.0")  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "error: " in res.stderr and "m_broken.jpg: cannot decode (corrupt or not an image), skipped" in res.stderr
    n = len(list((awkward / "JPEGImages").iterdir()))
    assert f"{n - 1} images processed, 1 failed" in res.stdout
    drawn = {p.stem for p in (tmp_path / "drawn").glob("*.jpg")}
    assert {"a_tiny", "b_thin", "c_blank", "e_lies", "t_triangle", "val_003"} <= drawn and "m_broken" not in drawn
    tiny = json.loads((tmp_path / "drawn" / "a_tiny.json").read_text())
    assert tiny["proposals"] == 0 and tiny["detections"] == [] and tiny["width"] == 1


def test_infer_keeps_same_stem_inputs_apart(awkward, trained, tmp_path):
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
        shutil.copy(awkward / "JPEGImages" / f"val_00{len(d) % 2}.jpg", tmp_path / d / "x.jpg")
    out, _ = trained
    res = run_tool("infer.py", str(tmp_path / "one"), str(tmp_path / "two" / "x.jpg"), "--ckpt",
                   str(out / "final.pth"), "--out", str(tmp_path / "drawn"))  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == [
        "one_x.jpg",
        "one_x.json",
        "two_x.jpg",
        "two_x.json",
    ]
    images = {json.loads((tmp_path / "drawn" / f"{d}_x.json").read_text())["image"] for d in ("one", "two")}
    assert images == {str(tmp_path / "one" / "x.jpg"), str(tmp_path / "two" / "x.jpg")}


@pytest.mark.slow
def test_very_large_image_is_read_and_detected_with_bounded_memory(tmp_path):
    """An 8000x6000 photo goes through infer (selective search at 500 px, boxes back in its own
    pixels); an image over the pixel limit is refused from its header in one line."""
    ckpt = tiny_detector_checkpoint(tmp_path / "det.pth", resize_width=500)
    ramp = np.linspace(0, 255, 8000, dtype=np.float32)[None, :, None]
    big = np.broadcast_to(ramp, (6000, 8000, 3)).astype(np.uint8).copy()
    cv2.rectangle(big, (2000, 1500), (5000, 4000), (200, 30, 30), -1)
    cv2.imwrite(str(tmp_path / "big.jpg"), big)
    del big
    res = run_tool("infer.py", str(tmp_path / "big.jpg"), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"),
                   "--score-thresh", "0.0")  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    entry = json.loads((tmp_path / "o" / "big.json").read_text())
    assert (entry["width"], entry["height"]) == (8000, 6000) and entry["proposals"] > 0
    assert max(d["box"][2] for d in entry["detections"]) > 500  # boxes in the photo's pixels, not the 500 px copy
    with pytest.raises(ImageError, match=r"big.jpg: 8000x6000 is 48 MP, over the 10 MP limit"):
        read_image(tmp_path / "big.jpg", max_pixels=10_000_000)


def test_api_on_awkward_inputs(awkward, tmp_path):
    det = Detector.load(tiny_detector_checkpoint(tmp_path / "det.pth"), "cpu", score_thresh=0.0)
    for stem in ("a_tiny", "b_thin", "c_blank", "e_lies"):
        name = AWKWARD[stem][0]
        r = det(awkward / "JPEGImages" / name)
        h, w = read_image(awkward / "JPEGImages" / name).shape[:2]
        assert (r.width, r.height) == (w, h) and (r.boxes[:, 2] <= w).all() and (r.boxes[:, 3] <= h).all()
    assert len(det(np.zeros((1, 1, 3), np.uint8))) == 0
    for bad, message in [
        (awkward / "JPEGImages" / "m_broken.jpg", "m_broken.jpg: cannot decode"),
        (tmp_path / "nope.jpg", "nope.jpg: not found"),
        (np.zeros((0, 5, 3), np.uint8), "empty image"),
        (np.zeros((4, 4, 2), np.uint8), r"expected an \[H, W, 3\] RGB array"),
        ("not a path.png", "not a path.png: not found"),
        (42, "not an image \\(int\\)"),
    ]:
        with pytest.raises(ImageError, match=message):
            det(bad)
