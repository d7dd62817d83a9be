"""tools/infer.py on good and bad images: grayscale, RGBA, corrupt, missing; drawing and JSON."""

import json

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from detector.data import load_dataset
from tests.helpers import run_tool


@pytest.mark.numerics
def test_infer_finds_the_objects_and_draws_them(trained, trivial_voc, tmp_path):
    out, _ = trained
    val = load_dataset(trivial_voc, "val")
    rec = next(r for r in val.records if len(r.boxes) == 2)
    res = run_tool("infer.py", str(rec.file), "--ckpt", str(out / "final.pth"), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    entry = json.loads((tmp_path / "o" / f"{rec.image_id}.json").read_text())
    dets = entry["detections"]
    assert entry["width"] == 96 and entry["proposals"] > 0 and dets
    assert all(d["score"] >= 0.5 for d in dets)
    assert len(res.stdout.splitlines()) == len(dets) + 1  # a line per detection and the summary
    names = val.class_names
    for box, label in zip(rec.boxes, rec.labels, strict=True):  # every object found, right class
        ious = box_iou(torch.tensor(box)[None], torch.tensor([d["box"] for d in dets]))[0]
        hits = [d for d, iou in zip(dets, ious, strict=True) if iou >= 0.5]
        assert any(d["class"] == names[label - 1] for d in hits), (rec.image_id, dets)
    drawn = cv2.imread(str(tmp_path / "o" / f"{rec.image_id}.jpg"))
    original = cv2.imread(str(rec.file))
    assert drawn.shape == original.shape and np.abs(drawn.astype(int) - original).mean() > 1.0


def test_infer_on_a_folder_with_bad_images(trained, trivial_voc, tmp_path):
    out, _ = trained
    src = cv2.imread(str(trivial_voc / "JPEGImages" / "val_001.jpg"))
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(src, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(src, cv2.COLOR_BGR2BGRA))
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image, not looked at")
    res = run_tool(
        "infer.py", str(folder), str(tmp_path / "missing.jpg"), "--ckpt", str(out / "final.pth"),
        "--out", str(tmp_path / "o"), "--json", "--score-thresh", "0.3",
    )  # fmt: skip
    assert res.returncode == 1
    assert "corrupt.jpg: cannot decode" in res.stderr and "missing.jpg: not found" in res.stderr
    assert "Traceback" not in res.stderr
    entries = json.loads((tmp_path / "o" / "detections.json").read_text())
    assert sorted(e["image"].rsplit("/", 1)[-1] for e in entries) == ["gray.png", "rgba.png"]
    assert all(e["width"] == 96 and e["height"] == 96 for e in entries)
    assert (tmp_path / "o" / "gray.jpg").is_file() and (tmp_path / "o" / "rgba.jpg").is_file()
    assert "2 images processed, 2 failed" in res.stdout


def test_infer_errors(trained, tmp_path):
    out, _ = trained
    res = run_tool("infer.py", str(tmp_path / "none.jpg"), "--ckpt", str(out / "final.pth"), "--out", str(tmp_path))
    assert res.returncode == 2 and "no images to process" in res.stderr
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((20, 20, 3), np.uint8))
    res = run_tool("infer.py", str(img), "--ckpt", str(tmp_path / "nope.pth"), "--out", str(tmp_path))
    assert res.returncode == 2 and "nope.pth" in res.stderr and "Traceback" not in res.stderr


def test_infer_refuses_out_of_range_options(tmp_path):
    for opt in (("--score-thresh", "1.5"), ("--max-dets", "0")):  # refused before any file is read
        res = run_tool("infer.py", str(tmp_path / "a.jpg"), "--ckpt", str(tmp_path / "x.pth"), *opt)
        assert res.returncode == 2 and f"{opt[0]} must be" in res.stderr and "x.pth" not in res.stderr
