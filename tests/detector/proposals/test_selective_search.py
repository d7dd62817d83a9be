"""Selective search: frame and mapping, reproducible order, k_scale, image kinds, cache, recall."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from detector.data import DatasetError
from detector.data.images import read_rgb
from detector.demo_data.scene import detection_scene
from detector.proposals.cache import ProposalCache
from detector.proposals.recall import proposal_recall
from detector.proposals.selective_search import SelectiveSearchConfig, _run_opencv, opencv_rects, selective_search
from tests.detector.eval.conftest import make_voc_dataset
from tests.helpers import ROOT, SHARED_DATA, run_tool


def _scene(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    cv2.rectangle(img, (20, 30), (70, 90), (220, 40, 40), -1)
    cv2.circle(img, (115, 60), 25, (40, 200, 60), -1)
    return img


def test_boxes_are_float_xyxy_in_the_image_and_unique():
    img = _scene()
    boxes = selective_search(img, SelectiveSearchConfig(resize_width=None))
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 5
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 160).all() and (boxes[:, 3] <= 120).all()
    assert ((boxes[:, 2:] - boxes[:, :2]) >= 2).all()
    assert len(np.unique(boxes, axis=0)) == len(boxes)
    # the red rectangle is found (inclusive 20..70 x 30..90 -> continuous 20, 30, 71, 91)
    iou = (np.minimum(boxes[:, 2], 71) - np.maximum(boxes[:, 0], 20)).clip(0) * (
        np.minimum(boxes[:, 3], 91) - np.maximum(boxes[:, 1], 30)
    ).clip(0)
    assert (iou / ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + 51 * 61 - iou)).max() > 0.9


def test_resize_maps_boxes_back_to_original_pixels():
    img = _scene()
    small = selective_search(img, SelectiveSearchConfig(resize_width=None, min_size=0))
    # segmenting a 2x upscaled copy at width 160 is segmenting the original: boxes scale by 2
    big = cv2.resize(img, (320, 240), interpolation=cv2.INTER_NEAREST)
    mapped = selective_search(big, SelectiveSearchConfig(resize_width=160, min_size=0))

    # as sets of boxes: the rank order is C rand()'s, which another thread of this process can move
    # (seen once in `make test-fast`; the order itself is checked by test_order_is_reproducible)
    def rows(b):
        return b[np.lexsort(b.T[::-1])]

    np.testing.assert_allclose(rows(mapped), rows(small * 2), atol=1e-4)


def test_order_is_reproducible(tmp_path):
    img = _scene(seed=1)
    cfg = SelectiveSearchConfig(resize_width=None)
    a = selective_search(img, cfg)
    selective_search(_scene(seed=2), cfg)  # other work in between
    b = selective_search(img, cfg)
    np.testing.assert_array_equal(a, b)
    # the mechanism: each call runs OpenCV from srand(1), a fresh process's state, so the order is
    # the one a freshly started interpreter gets (what the forked child of the old way got)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    raw = [opencv_rects(bgr, cfg) for _ in range(2)]
    np.testing.assert_array_equal(raw[0], raw[1])
    np.save(tmp_path / "bgr.npy", bgr)
    code = (
        "import sys, numpy as np; from detector.proposals.selective_search import SelectiveSearchConfig as C, _run_opencv; "
        f"sys.stdout.buffer.write(_run_opencv(np.load({str(tmp_path / 'bgr.npy')!r}), C(resize_width=None)).tobytes())"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=ROOT).stdout
    np.testing.assert_array_equal(raw[0], np.frombuffer(fresh, np.int32).reshape(-1, 4))
    # without the seed, OpenCV's order does change from call to call: the test can fail
    assert not all(np.array_equal(_run_opencv(bgr, cfg), raw[0]) for _ in range(3))


def test_k_scale_two_roughly_halves_the_count():
    # a real micrograph when ../shared/data is there, else four fixed generated scenes (noise
    # would not do: doubling k barely merges anything in it)
    bccd = SHARED_DATA / "bccd" / "JPEGImages" / "BloodImage_00007.jpg"
    if SHARED_DATA.is_dir():
        images = [read_rgb(bccd)]
    else:
        images = [detection_scene(np.random.default_rng(seed), (480, 640), 6, (20, 120))[0] for seed in range(4)]
    n1 = sum(len(selective_search(img, SelectiveSearchConfig(resize_width=320))) for img in images)
    n2 = sum(len(selective_search(img, SelectiveSearchConfig(resize_width=320, k_scale=2.0))) for img in images)
    assert 0.35 < n2 / n1 < 0.8, (n1, n2)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_image_kinds(tmp_path, mode):
    img = Image.fromarray(_scene())
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257)
    else:
        img = img.convert(mode)
    path = tmp_path / f"im_{mode.replace(';', '')}.png"
    img.save(path)
    rgb = read_rgb(path)
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
    assert len(selective_search(rgb, SelectiveSearchConfig(mode="single", resize_width=None))) > 0


def test_modes_differ_in_count():
    img = _scene()
    counts = {
        m: len(selective_search(img, SelectiveSearchConfig(mode=m, resize_width=None)))
        for m in ("single", "fast", "quality")
    }
    assert counts["single"] < counts["fast"] < counts["quality"], counts


def test_cache_round_trip_and_meta(tmp_path):
    cache = ProposalCache(tmp_path / "c")
    cache.write_meta({"method": "ss", "k_scale": 2.0})
    boxes = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    cache.put("dir/img1", boxes)
    got, scores = cache.get("dir/img1")
    np.testing.assert_array_equal(got, boxes)
    assert scores.tolist() == [1.0, 0.5] and cache.has("dir/img1") and not cache.has("img2")
    with pytest.raises(DatasetError, match="no proposals for image 'img2'"):
        cache.get("img2")
    with pytest.raises(DatasetError, match="the cache was made with"):
        cache.write_meta({"method": "ss", "k_scale": 1.0})
    assert not list((tmp_path / "c").rglob("*.tmp*"))


def test_cache_refuses_proposals_of_another_file(tmp_path):
    cache = ProposalCache(tmp_path)
    boxes = np.array([[1, 2, 3, 4]], np.float32)
    cache.put(7, boxes, source=tmp_path / "coco" / "train2017" / "000000000007.jpg")
    for same in ("/moved/elsewhere/000000000007.jpg", ""):  # a moved dataset, or a caller without a file
        np.testing.assert_array_equal(cache.get(7, same)[0], boxes)
    assert cache.has(7, "/moved/000000000007.jpg") and not cache.has(8, "/voc/JPEGImages/img_8.jpg")
    for look in (cache.get, cache.has):  # another dataset whose image id is also 7: neither read nor skipped
        with pytest.raises(DatasetError, match=r"proposals of '000000000007.jpg', not of 'img_7.jpg': two datasets"):
            look(7, "/voc/JPEGImages/img_7.jpg")


def test_cache_refuses_proposals_of_a_same_named_file_from_another_folder(tmp_path):
    cache = ProposalCache(tmp_path / "cache")
    boxes = np.array([[1, 2, 3, 4]], np.float32)
    a, b, moved = tmp_path / "a" / "img.jpg", tmp_path / "b" / "img.jpg", tmp_path / "moved" / "img.jpg"
    for f, data in ((a, b"\xff\xd8" + bytes(range(256)) * 300), (b, b"\xff\xd8" + bytes(300 * 256)), (moved, None)):
        f.parent.mkdir()
        f.write_bytes(a.read_bytes() if data is None else data)  # b: same size, other bytes
    cache.put("img", boxes, source=a)
    for same in (a, moved, ""):  # the file itself, a moved copy, a caller without a file
        np.testing.assert_array_equal(cache.get("img", same)[0], boxes)
    for look in (cache.get, cache.has, cache.find):
        with pytest.raises(DatasetError, match=r"proposals of another 'img.jpg' \(size and first bytes differ"):
            look("img", b)
    b.write_bytes(a.read_bytes()[:-1])  # edited since: another size
    with pytest.raises(DatasetError, match="size and first bytes differ"):
        cache.get("img", b)


def test_recall_by_hand(tmp_path):
    ds = make_voc_dataset(
        {
            "a": [("cat", 1, 1, 100, 100, 0), ("cat", 201, 1, 300, 100, 0), ("dog", 1, 201, 50, 250, 1)],
            "b": [("dog", 1, 1, 10, 10, 0)],
        },
        ["cat", "dog"],
    )
    cache = ProposalCache(tmp_path)
    # image a: a perfect box for the first cat (rank 2), IoU 0.6 for the second (rank 1); b: nothing near
    cache.put("a", np.array([[200, 0, 260, 100], [0, 0, 100, 100]], np.float32))
    cache.put("b", np.array([[50, 50, 60, 60]], np.float32))
    res = proposal_recall(ds, cache, counts=(1, 2))
    assert res["num_gt"] == 3  # the difficult dog is not counted
    assert res["recall@0.5"] == pytest.approx(2 / 3) and res["recall@0.7"] == pytest.approx(1 / 3)
    assert res["abo"] == pytest.approx((1.0 + 0.6 + 0.0) / 3)
    assert res["mabo"] == pytest.approx(((1.0 + 0.6) / 2 + 0.0) / 2)
    assert res["mean_count"] == 1.5
    assert res["curve"]["recall@0.5"] == pytest.approx([1 / 3, 2 / 3])  # first n proposals


@pytest.mark.slow
def test_tools_resume_and_report(tmp_path):
    root = tmp_path / "voc"
    from tests.detector.data.builders import write_voc

    write_voc(
        root, "val", {"a": (160, 120, [("cat", 21, 31, 71, 91, 0)]), "b": (160, 120, [("dog", 91, 36, 140, 85, 0)])}
    )
    for name in ("a", "b"):
        cv2.imwrite(str(root / "JPEGImages" / f"{name}.jpg"), cv2.cvtColor(_scene(seed=3), cv2.COLOR_RGB2BGR))
    (root / "ImageSets" / "Main" / "val.txt").write_text("a\nb\nbroken\n")
    (root / "Annotations" / "broken.xml").write_text(
        (root / "Annotations" / "a.xml").read_text().replace("a.jpg", "broken.jpg")
    )
    (root / "JPEGImages" / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "props"

    def extract(*extra):
        return run_tool(
            "proposals.py", "--data", str(root), "--split", "val", "--out", str(out), "--resize-width", "0", *extra
        )

    first = extract("--workers", "2")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "2 images computed" in first.stdout and "1 failed" in first.stdout
    assert "broken.jpg: cannot be read as an image, skipped" in first.stderr
    (out / "boxes" / "b.npz").unlink()
    again = extract("--workers", "1")
    assert "1 images computed" in again.stdout and "1 already cached" in again.stdout
    changed = extract("--k-scale", "2")
    assert changed.returncode == 2 and "the cache was made with" in changed.stderr
    (out / "boxes" / "broken.npz").write_bytes((out / "boxes" / "a.npz").read_bytes())  # a's file under broken's id
    report = ("--proposals", str(out), "--json", str(tmp_path / "r.json"), "--plots", str(tmp_path / "plots"))
    rep = run_tool("eval_proposals.py", "--data", str(root), "--split", "val", *report)
    assert rep.returncode == 2 and "proposals of 'a.jpg', not of 'broken.jpg'" in rep.stderr
    cache = ProposalCache(out)  # let every image have proposals, each its own
    cache.put("broken", cache.get("a")[0], source="broken.jpg")
    rep = run_tool("eval_proposals.py", "--data", str(root), "--split", "val", *report)
    assert rep.returncode == 0, rep.stderr
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["recall@0.5"] == 1.0 and set(res) >= {"recall@0.7", "mabo", "mean_count"}
    assert (tmp_path / "plots" / "recall_vs_number.png").is_file()
    # a and b recorded their search's seconds; broken's boxes were put by hand, without any
    stored = [float(np.load(out / "boxes" / f"{n}.npz")["ss_seconds"]) for n in ("a", "b")]
    assert all(0 < s < 60 for s in stored) and cache.find_timed("broken")[1] is None
    assert res["timed_images"] == 2 and res["seconds_per_image"] == pytest.approx(np.mean(stored))
    assert f"{np.mean(stored):.3f} s per image when computed" in rep.stdout


@pytest.mark.slow
def test_torchrun_ranks_share_the_images(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from tests.detector.data.builders import write_voc
    from tests.helpers import ROOT

    root = tmp_path / "voc"
    write_voc(root, "val", {f"im{i}": (160, 120, [("cat", 21, 31, 71, 91, 0)]) for i in range(5)})
    for i in range(5):
        cv2.imwrite(str(root / "JPEGImages" / f"im{i}.jpg"), cv2.cvtColor(_scene(seed=i), cv2.COLOR_RGB2BGR))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "props"
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}", str(ROOT / "tools" / "proposals.py"),
         "--data", str(root), "--split", "val", "--out", str(out), "--workers", "1", "--resize-width", "0"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "rank 0: 3 images computed" in res.stdout and "rank 1: 2 images computed" in res.stdout
    assert sorted(p.stem for p in (out / "boxes").glob("*.npz")) == [f"im{i}" for i in range(5)]


def test_proposals_tool_reads_a_detector_configs_section_opts_and_flags_and_saves_them(tmp_path):
    """tools/proposals.py's settings: the proposals: section of a train_det config, then --opts,
    then the flags, saved beside the cache; the cached boxes are the ones those settings give."""
    from detector.config import read_yaml
    from tests.detector.data.builders import write_voc

    root = tmp_path / "voc"
    write_voc(root, "val", {"a": (160, 120, [("cat", 21, 31, 71, 91, 0)])})
    img = _scene(seed=3)
    cv2.imwrite(str(root / "JPEGImages" / "a.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cfg = tmp_path / "det.yaml"
    cfg.write_text("proposals:\n  workers: 1\n  selective_search:\n    mode: single\n    k_scale: 3.0\n")
    out = tmp_path / "props"
    res = run_tool("proposals.py", "--data", str(root), "--split", "val", "--out", str(out), "--config", str(cfg),
                   "--opts", "selective_search.min_size=4", "--resize-width", "0")  # fmt: skip
    assert res.returncode == 0, res.stderr
    saved = read_yaml(out / "proposals.yaml")
    ss = saved["selective_search"]
    assert (saved["workers"], ss["mode"], ss["k_scale"], ss["min_size"], ss["resize_width"]) == (
        1,
        "single",
        3.0,
        4.0,
        None,
    )
    what = read_rgb(root / "JPEGImages" / "a.jpg")  # the decoded JPEG, as the tool reads it
    want = selective_search(what, SelectiveSearchConfig("single", 3.0, resize_width=None, min_size=4.0))
    np.testing.assert_array_equal(np.load(out / "boxes" / "a.npz")["boxes"], want)
    bad = run_tool("proposals.py", "--data", str(root), "--split", "val", "--out", str(tmp_path / "x"),
                   "--opts", "selective_search.k_scal=2")  # fmt: skip
    assert bad.returncode == 2 and "k_scal" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_tool(
        "proposals.py", "--data", str(root), "--split", "val", "--out", str(tmp_path / "y"), "--workers", "0"
    )
    assert bad.returncode == 2 and "workers=0" in bad.stderr
