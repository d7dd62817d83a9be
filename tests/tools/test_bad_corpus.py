"""The bad-input corpus for configs and annotations (beside test_bad_inputs.py's for images):
every case through every tool that reads it, in this process (``detector.cli.run_tool``, as the
command line runs it).

- REFUSED: one line on stderr naming the file (or the dotted config key) and the problem, exit
  status 2, nothing written under ``--out``.
- REPAIRED: data a loader drops or fixes with a warning naming the file (NaN and inverted boxes,
  unknown classes, an id listed twice, an unreadable image without a size), after which the
  tool works and its numbers are those of the clean data.
"""

import dataclasses
import importlib
import json
import shutil
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import numpy as np
import pytest

from detector.checkpoint import save_checkpoint
from detector.classify.config import ClsTrainConfig
from detector.commands import eval_det, make_demo_data, proposals, train_cls, train_det, train_multibox
from detector.data import load_dataset
from tests.detector.data.builders import voc_xml, write_image
from tests.helpers import ROOT, run_main

# --- data -----------------------------------------------------------------------------------------
OBJECTS = {"a": [("cat", 11, 11, 40, 40, 0)], "b": [("dog", 5, 5, 30, 44, 0), ("cat", 33, 3, 60, 20, 0)]}


def _voc(root: Path, xml: dict | None = None, ids: list[str] | None = None) -> Path:
    """A two-image VOC split ``val`` (64x48 images), with ``xml`` (id -> text) replacing files."""
    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for stem, objs in OBJECTS.items():
        write_image(root / "JPEGImages" / f"{stem}.jpg", 64, 48)
        (root / "Annotations" / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", 64, 48, objs))
    for stem, text in (xml or {}).items():
        (root / "Annotations" / f"{stem}.xml").write_text(text)
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(ids or list(OBJECTS)) + "\n")
    return root


def _coco_dict() -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
            {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48},
        ],  # fmt: skip
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 30], "area": 900, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [4, 4, 26, 40], "area": 1040, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [32, 2, 28, 18], "area": 504, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }


def _coco(root: Path, change=None, text: str | None = None) -> Path:
    """``root/annotations/instances_val.json`` (images in ``root/val``), changed by ``change(d)``."""
    for stem in ("a", "b"):
        write_image(root / "val" / f"{stem}.jpg", 64, 48)
    d = _coco_dict()
    if change is not None:
        change(d)
    path = root / "annotations" / "instances_val.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps(d))
    return path


def _set(path: str, value):
    """A change setting ``d[k1][k2]... = value`` (``"images.0.width"``); ``value`` DELETE removes it."""

    def change(d):
        *head, last = path.split(".")
        node = d
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


DELETE = object()
NAN = float("nan")

# case -> (writer(tmp) -> the --gt path, the file the message must name, words of the message)
REFUSED = {
    "coco image without width": (lambda t: _coco(t, _set("images.0.width", DELETE)), "instances_val.json", "has no 'width'"),
    "coco width not a number": (lambda t: _coco(t, _set("images.1.width", "wide")), "instances_val.json", "'width' must be a positive integer"),
    "coco width negative": (lambda t: _coco(t, _set("images.1.height", -4)), "instances_val.json", "'height' must be a positive integer"),
    "coco image id twice": (lambda t: _coco(t, _set("images.1.id", 1)), "instances_val.json", "image id 1 is listed twice"),
    "coco image not an object": (lambda t: _coco(t, _set("images.1", [2, "b.jpg"])), "instances_val.json", "image 1 is not an object"),
    "coco annotations null": (lambda t: _coco(t, _set("annotations", None)), "instances_val.json", "'annotations' must be a list"),
    "coco annotation not an object": (lambda t: _coco(t, _set("annotations.1", "box")), "instances_val.json", "annotation 1 is not an object"),
    "coco category without id": (lambda t: _coco(t, _set("categories.0.id", DELETE)), "instances_val.json", "category 0 is not an object with 'id'"),
    "coco category id twice": (lambda t: _coco(t, _set("categories.1.id", 1)), "instances_val.json", "category ids are not unique"),
    "coco images not a list": (lambda t: _coco(t, _set("images", {"id": 1})), "instances_val.json", "not a COCO instances file"),
    "coco top level a list": (lambda t: _coco(t, text="[]"), "instances_val.json", "not a COCO instances file"),
    "coco empty file": (lambda t: _coco(t, text=""), "instances_val.json", "malformed JSON"),
    "coco torn file": (lambda t: _coco(t, text=json.dumps(_coco_dict())[:-40]), "instances_val.json", "malformed JSON"),
    "voc id escapes the folder": (lambda t: _voc(t, ids=["a", "../../escape"]), "val.txt", "leaves the dataset folder"),
    "voc absolute id": (lambda t: _voc(t, ids=["a", "/tmp/abs"]), "val.txt", "leaves the dataset folder"),
    "voc filename escapes": (lambda t: _voc(t, {"a": voc_xml("../../../etc/passwd", 64, 48, OBJECTS["a"])}), "a.xml", "not a plain file name"),
    "voc empty xml": (lambda t: _voc(t, {"b": ""}), "b.xml", "malformed XML"),
    "voc torn xml": (lambda t: _voc(t, {"b": voc_xml("b.jpg", 64, 48, OBJECTS["b"])[:-30]}), "b.xml", "malformed XML"),
    "voc no split list": (lambda t: _voc(t) and (t / "ImageSets/Main/val.txt").unlink() or t, "ImageSets", "no split list"),
}  # fmt: skip


def _gt_args(gt: Path) -> list[str]:
    return ["--gt", str(gt)] + ([] if gt.suffix == ".json" else ["--split", "val"])


def _tools_reading_annotations(gt: Path, out: Path) -> dict[str, tuple]:
    """tool -> (main, argv) of every tool that reads ``gt``, writing under ``out``."""
    data = ["--data", str(gt)] + ([] if gt.suffix == ".json" else ["--split", "val"])
    dets = out.parent / "dets.json"
    dets.write_text("[]")
    return {
        "eval_det": (eval_det.main, [*_gt_args(gt), "--dets", str(dets), "--metric", "voc", "--out", str(out / "r.json"), "--plots", str(out / "plots")]),
        "proposals": (proposals.main, [*data, "--out", str(out / "props"), "--workers", "1"]),
        "train_det": (train_det.main, ["--config", str(ROOT / "configs" / "demo_det.yaml"), "--data", str(gt), "--train-split", "val", "--val-split", str(gt) if gt.suffix == ".json" else "val", "--out", str(out / "det"), "--opts", "device=cpu"]),
        "train_multibox": (train_multibox.main, ["--config", str(ROOT / "configs" / "demo_multibox.yaml"), "--data", str(gt), "--train-split", "val", "--val-split", str(gt) if gt.suffix == ".json" else "val", "--out", str(out / "mb"), "--opts", "device=cpu"]),
    }  # fmt: skip


def _eval(gt: Path, dets: Path, metric: str, *extra: str):
    """tools/eval_det.py on results ``dets`` against ``gt`` (a COCO file or a VOC folder's ``val``)."""
    return run_main(eval_det.main, *_gt_args(gt), "--dets", str(dets), "--metric", metric, *extra)


def _assert_refused(res, names: str, words: str, out: Path):
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert names in lines[0] and words in lines[0], lines[0]
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not written, written


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_annotations_through_every_tool(case, tmp_path):
    make, names, words = REFUSED[case]
    gt = make(tmp_path / "data")
    for tool, (main, argv) in _tools_reading_annotations(gt, tmp_path / "out").items():
        _assert_refused(run_main(main, *argv, name=tool), names, words, tmp_path / "out")
        shutil.rmtree(tmp_path / "out", ignore_errors=True)


# --- data that is repaired with a warning ----------------------------------------------------------
def _voc_box(stem: str, box: tuple) -> dict:
    return {stem: voc_xml(f"{stem}.jpg", 64, 48, [*OBJECTS[stem], ("cat", *box, 0)])}


REPAIRED = {  # case -> (writer, the warning's words, the file it names)
    "voc NaN coordinate": (lambda t: _voc(t, _voc_box("a", ("nan", 3, 20, 20))), "NaN or infinite coordinate", "a.xml"),
    "voc inf coordinate": (lambda t: _voc(t, _voc_box("b", (3, 3, "inf", 20))), "NaN or infinite coordinate", "b.xml"),
    "voc inverted box": (lambda t: _voc(t, _voc_box("a", (30, 3, 20, 20))), "zero-area or inverted box", "a.xml"),
    "voc id listed twice": (lambda t: _voc(t, ids=["a", "b", "a"]), "image id listed twice", "val.txt"),
    "voc no size and a corrupt image": (lambda t: _voc(t, {"c": voc_xml("c.jpg", None, None, [("cat", 2, 2, 9, 9, 0)])}, ids=["a", "b", "c"]) and (t / "JPEGImages/c.jpg").write_bytes(b"\xff\xd8 no JPEG") and t, "unreadable image", "c.xml"),
    "coco NaN bbox": (lambda t: _coco(t, lambda d: d["annotations"].append({"id": 9, "image_id": 1, "category_id": 1, "bbox": [NAN, 1, 5, 5], "area": 25})), "NaN or infinite coordinate", "a.jpg"),
    "coco negative size": (lambda t: _coco(t, lambda d: d["annotations"].append({"id": 9, "image_id": 1, "category_id": 1, "bbox": [5, 1, -5, 5], "area": 25})), "zero-area or inverted box", "a.jpg"),
    "coco category not in categories": (lambda t: _coco(t, lambda d: d["annotations"].append({"id": 9, "image_id": 1, "category_id": 7, "bbox": [5, 1, 5, 5], "area": 25})), "unknown class dropped", "a.jpg"),
    "coco annotation of an unknown image": (lambda t: _coco(t, lambda d: d["annotations"].append({"id": 9, "image_id": 5, "category_id": 1, "bbox": [5, 1, 5, 5], "area": 25})), "annotation for an unknown image", "instances_val.json"),
    "coco without area and iscrowd": (lambda t: _coco(t, lambda d: [a.pop(k) for a in d["annotations"] for k in ("area", "iscrowd")]), None, None),
}  # fmt: skip


def _perfect_dets(gt: Path, out: Path) -> Path:
    """Detections equal to the clean ground truth (score 1), in the results format of ``gt``'s kind."""
    ds = load_dataset(str(gt), None if gt.suffix == ".json" else "val")
    off = 1.0 if ds.is_xml else 0.0
    dets = [
        {"image_id": r.image_id, "category_id": ds.category_ids[int(lab) - 1],
         "bbox": [b[0] + off, b[1] + off, b[2] - b[0], b[3] - b[1]], "score": 1.0}
        for r in ds.records for b, lab in zip(r.boxes.tolist(), r.labels, strict=True)
    ]  # fmt: skip
    out.write_text(json.dumps(dets))
    return out


@pytest.mark.parametrize("case", list(REPAIRED))
def test_repaired_annotations_warn_and_score_like_clean_data(case, tmp_path, caplog):
    make, words, names = REPAIRED[case]
    gt = make(tmp_path / "data")
    ds = load_dataset(str(gt), None if gt.suffix == ".json" else "val")
    assert sum(len(r.boxes) for r in ds.records) == 3  # the clean objects, nothing else
    assert all(np.isfinite(r.boxes).all() for r in ds.records)
    if words is not None:
        assert words in ds.log.summary() and names in ds.log.summary(), ds.log.summary()
    dets = _perfect_dets(gt, tmp_path / "dets.json")
    for metric in ("voc", "coco"):
        res = _eval(gt, dets, metric, "--out", str(tmp_path / f"{metric}.json"))
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
        report = json.loads((tmp_path / f"{metric}.json").read_text())
        assert report["mAP"] == pytest.approx(1.0), (metric, report["mAP"])


# --- detection results ------------------------------------------------------------------------------
BAD_RESULTS = {  # case -> (the file's text, words of the message)
    "image_id a list": ('[{"image_id": [1], "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5}]', "image_id [1]"),
    "category_id an object": (
        '[{"image_id": 1, "category_id": {"a": 1}, "bbox": [1, 1, 5, 5], "score": 0.5}]',
        "category_id",
    ),
    "NaN score": ('[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": NaN}]', "NaN or infinite"),
    "inf coordinate": (
        '[{"image_id": 1, "category_id": 1, "bbox": [1, 1, Infinity, 5], "score": 0.5}]',
        "NaN or infinite",
    ),
    "string coordinate": (
        '[{"image_id": 1, "category_id": 1, "bbox": ["1", 1, 5, 5], "score": 0.5}]',
        "is not {image_id",
    ),
    "boolean score": ('[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": true}]', "non-numeric score"),
    "not a list": ('{"image_id": 1}', "expected a JSON list"),
    "empty file": ("", "malformed JSON"),
}


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_bad_results_file_is_one_line(case, tmp_path):
    gt = _coco(tmp_path / "data")
    text, words = BAD_RESULTS[case]
    (tmp_path / "dets.json").write_text(text)
    out = tmp_path / "out"
    res = _eval(gt, tmp_path / "dets.json", "coco", "--out", str(out / "r.json"))
    _assert_refused(res, "dets.json", words, out)


def test_report_of_a_split_without_ground_truth_is_strict_json(tmp_path):
    gt = _coco(tmp_path / "data", _set("annotations", []))
    (tmp_path / "dets.json").write_text("[]")
    res = _eval(gt, tmp_path / "dets.json", "voc", "--out", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and json.loads(text)["mAP"] is None  # strict JSON: null, not NaN


def test_eval_paths_that_are_files_or_empty_splits_are_one_line(tmp_path):
    gt = _coco(tmp_path / "data")
    dets = _perfect_dets(gt, tmp_path / "dets.json")
    (tmp_path / "file").write_text("x")
    res = _eval(gt, dets, "voc", "--out", str(tmp_path / "file" / "r.json"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "file" in res.stderr, res.stderr
    empty = _coco(tmp_path / "empty", _set("images", []))
    (tmp_path / "none.json").write_text("[]")
    res = _eval(empty, tmp_path / "none.json", "voc", "--compare", str(tmp_path / "none.json"))
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "no images" in res.stderr, res.stderr


# --- configs ------------------------------------------------------------------------------------------
BAD_OPTS = {  # --opts -> words of the message (the dotted key)
    "optim.batch_size=0": "'optim.batch_size' must be at least 1",
    "log_every=0": "'log_every' must be at least 1",
    "optim.schedule.step_epochs=0": "'optim.schedule.step_epochs' must be a finite number above 0",
    "data.workers=-1": "'data.workers' must be at least 0",
    "optim.lr=-1": "'optim.lr' must be a finite number above 0",
    "optim.lr=.nan": "'optim.lr' must be a finite number above 0",
    "optim.epochs=2.5": "'optim.epochs' expects int",
    "optim.ema_decay=1.5": "'optim.ema_decay' must be between 0 and 1",
    "optim.name=adam": "'optim.name' must be one of",
    "optim=3": "'optim' is a section",
    "optim.schedule=cosine": "'optim.schedule' is a section",
    "model=[1]": "'model' is a section",
    "model.variant=resnet": "'model.variant' must be one of",
    "model.dropout=2": "'model.dropout' must be between 0 and 1",
    "seed=-1": "'seed' must be at least 0",
    "device=tpu": "'device' must be one of",
    "amp=maybe": "'amp' expects bool",
    "dist_timeout=0": "'dist_timeout' must be a finite number above 0",
    "optim.lrr=1": "unknown key 'optim.lrr'",
}
TOOL_OPTS = {  # per trainer: cases of its own sections
    "train_det": {"head.mode=yolo": "'head.mode' must be one of", "test.nms_iou=2": "'test.nms_iou' must be between 0 and 1",
                  "sampling.positive_fraction=-0.1": "'sampling.positive_fraction' must be between 0 and 1",
                  "proposals.top_k=0": "'proposals.top_k' must be at least 1", "head.image_scales=[1,0]": "'head.image_scales[1]' must be",
                  "proposals.workers=-2": "'proposals.workers' must be at least 0", "data.hflip=2": "'data.hflip' must be between 0 and 1"},
    "train_multibox": {"num_priors=0": "'num_priors' must be at least 1", "nms_iou=1.5": "'nms_iou' must be between 0 and 1",
                       "data.input_size=-3": "'data.input_size' must be at least 1"},
    "train_cls": {"data.augment.area=[0.5]": "'data.augment.area' expects 2 items", "data.augment.hue=-1": "'data.augment.hue' must be",
                  "data.resize=0": "'data.resize' must be at least 1"},
}  # fmt: skip
TRAINERS = {
    "train_cls": (train_cls.main, "demo_cls.yaml"),
    "train_multibox": (train_multibox.main, "demo_multibox.yaml"),
    "train_det": (train_det.main, "demo_det.yaml"),
}


def _trainer_argv(tool: str, data: Path, out: Path) -> list[str]:
    main, config = TRAINERS[tool]
    where = (
        ["--data", str(data)]
        if tool == "train_cls"
        else ["--data", str(data), "--train-split", "val", "--val-split", "val"]
    )
    return ["--config", str(ROOT / "configs" / config), *where, "--out", str(out)]


@pytest.mark.parametrize("tool", list(TRAINERS))
def test_config_values_out_of_range_or_of_the_wrong_type(tool, tmp_path):
    data = _voc(tmp_path / "data")
    cases = {**BAD_OPTS, **TOOL_OPTS[tool]}
    for opt, words in cases.items():
        out = tmp_path / "out"
        res = run_main(TRAINERS[tool][0], *_trainer_argv(tool, data, out), "--opts", opt, name=tool)
        _assert_refused(res, "--opts", words, out)


def _wrong_types(cls, prefix: str = "") -> dict[str, str]:
    """``{--opts override: the dotted key}``: for every field of config dataclass ``cls``
    (recursively), a value of the wrong type: a number for a section or a list, a list for
    anything else (a number, a name, a path, a switch)."""
    out = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key, tp = f"{prefix}{f.name}", hints[f.name]
        if tp is Any:
            continue
        if dataclasses.is_dataclass(tp):
            out[f"{key}=3"] = key
            out.update(_wrong_types(tp, key + "."))
        elif get_origin(tp) in (list, tuple, dict):
            out[f"{key}=7"] = key
        else:
            out[f"{key}=[1, 2]"] = key
    return out


CONFIG_CLASSES = {"train_cls": "detector.classify.config.ClsTrainConfig",
                  "train_multibox": "detector.proposals.multibox.MultiBoxConfig",
                  "train_det": "detector.rcnn.config.DetTrainConfig"}  # fmt: skip


@pytest.mark.parametrize("tool", list(TRAINERS))
def test_every_config_field_with_a_wrong_type(tool, tmp_path):
    """Every section and every field of the trainer's config, given a value of the wrong type."""
    module, name = CONFIG_CLASSES[tool].rsplit(".", 1)
    cases = _wrong_types(getattr(importlib.import_module(module), name))
    assert len(cases) > 30, len(cases)
    data = _voc(tmp_path / "data")
    for opt, key in cases.items():
        out = tmp_path / "out"
        res = run_main(TRAINERS[tool][0], *_trainer_argv(tool, data, out), "--opts", opt, name=tool)
        _assert_refused(res, "--opts", f"'{key}'", out)


@pytest.mark.parametrize(
    "text, words",
    [
        ("- 1\n- 2\n", "expected a mapping at the top level"),
        ("optim: [1\n", "invalid YAML"),
        ("optim:\n  batch_size: 0\n", "'optim.batch_size' must be at least 1"),
        ("optim:\n  lr: fast\n", "'optim.lr' expects float"),
        ("data: 3\n", "'data' is a section"),
    ],  # fmt: skip
)
def test_bad_config_files(text, words, tmp_path):
    data = _voc(tmp_path / "data")
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    for tool, (main, _) in TRAINERS.items():
        argv = _trainer_argv(tool, data, tmp_path / "out")
        argv[1] = str(config)
        _assert_refused(run_main(main, *argv, name=tool), "bad.yaml", words, tmp_path / "out")


def test_demo_data_and_proposal_configs_are_checked(tmp_path):
    for opt, words in (("det_train=-1", "'det_train' must be at least 0"), ("jpeg_quality=101", "'jpeg_quality' must be between 0 and 100"),
                       ("workers=-1", "'workers' must be at least 0"), ("max_radius=0", "'max_radius' must be a finite number above 0")):  # fmt: skip
        res = run_main(make_demo_data.main, "--out", str(tmp_path / "demo"), "--opts", opt)
        _assert_refused(res, "--opts", words, tmp_path / "demo")
    data = _voc(tmp_path / "data")
    for opt, words in (("selective_search.k_scale=0", "'selective_search.k_scale' must be"),
                       ("selective_search.mode=slow", "'selective_search.mode' must be one of"), ("top_k=-5", "'top_k' must be at least 1")):  # fmt: skip
        res = run_main(
            proposals.main, "--data", str(data), "--split", "val", "--out", str(tmp_path / "p"), "--opts", opt
        )
        _assert_refused(res, "--opts", words, tmp_path / "p")


def test_resume_from_another_tools_checkpoint_is_one_line_before_any_work(tmp_path):
    data = _voc(tmp_path / "data")
    out = tmp_path / "det"
    save_checkpoint(out / "last.pth", {}, ClsTrainConfig(), ema={}, optimizer={}, scheduler={}, epoch=1, step=3)
    res = run_main(train_det.main, *_trainer_argv("train_det", data, out), "--resume", "--opts", "device=cpu")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    line = res.stderr.strip().splitlines()[-1]
    assert "last.pth" in line and "written by another kind of run" in line, line
    assert sorted(p.name for p in out.iterdir()) == ["last.pth"]  # no proposals, no config, nothing
