"""COCO and VOC/ILSVRC loaders: frames, flags, bad annotations, real data."""

import logging

import numpy as np
import pytest

from detector.data import DatasetError, load_coco, load_dataset, load_voc, read_class_map
from tests.helpers import SHARED_DATA

from .builders import voc_xml, write_coco, write_image, write_voc


def test_voc_frame_flags_and_bad_boxes(tmp_path, caplog):
    root = write_voc(
        tmp_path / "voc",
        "val",
        {
            "im1": (100, 80, [("cat", 11, 21, 30, 40, 0), ("dog", 1, 1, 100, 80, 1), ("cat", 50, 50, 50, 60, 0)]),
            "im2": (100, 80, [("cat", 90, 70, 120, 95, 0), ("bird", 5, 5, 9, 9, 0)]),
            "im3": (100, 80, []),
        },
    )
    with caplog.at_level(logging.WARNING, logger="detector.data"):
        ds = load_voc(root, "val", class_names=["cat", "dog"])
    assert [r.image_id for r in ds.records] == ["im1", "im2", "im3"]
    r1, r2, r3 = ds.records
    # 1-based inclusive (11..30) -> continuous (10, 30): width 20 in both frames
    np.testing.assert_array_equal(r1.boxes, np.array([[10, 20, 30, 40], [0, 0, 100, 80]], np.float32))
    assert r1.boxes.dtype == np.float32 and r1.labels.tolist() == [1, 2] and r1.difficult.tolist() == [False, True]
    np.testing.assert_array_equal(r2.boxes, [[89, 69, 100, 80]])  # clipped to the image
    assert len(r3.boxes) == 0 and r3.boxes.shape == (0, 4)
    assert (r1.width, r1.height, r1.file.name) == (100, 80, "im1.jpg")
    assert ds.log.counts == {
        "zero-area or inverted box dropped": 1,
        "box outside the image clipped": 1,
        "unknown class dropped": 1,
    }
    summary = ds.log.summary()
    assert "1 zero-area or inverted box dropped (im1.xml)" in summary and "\n" not in summary
    assert any("im1.xml" in rec.getMessage() for rec in caplog.records)


def test_voc_classes_from_data_missing_files_and_size_from_image(tmp_path):
    root = write_voc(
        tmp_path / "voc",
        "train",
        {"a": (None, None, [("zebra", 1, 1, 10, 10, 0)]), "b": (64, 48, [("ant", 1, 1, 5, 5, 0)])},
    )
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\nb\nghost\n")
    (root / "JPEGImages" / "b.jpg").unlink()
    ds = load_voc(root, "train", check_images=True)
    assert ds.class_names == ["ant", "zebra"]  # sorted names in the split's annotations
    assert [r.image_id for r in ds.records] == ["a"]
    assert (ds.records[0].width, ds.records[0].height) == (64, 48)  # read from the image: no <size>
    assert ds.log.counts == {"annotation file missing, image dropped": 1, "missing image file, image dropped": 1}


def test_voc_malformed_xml_is_one_line_error(tmp_path):
    root = write_voc(tmp_path / "voc", "val", {"a": (10, 10, [])})
    (root / "Annotations" / "a.xml").write_text("<annotation><object>")
    with pytest.raises(DatasetError) as err:
        load_voc(root, "val")
    assert str(err.value).startswith(str(root / "Annotations" / "a.xml")) and "malformed XML" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(DatasetError, match="no split list"):
        load_voc(root, "nosuchsplit")
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_voc(tmp_path / "nothing", "val")


def test_ilsvrc_layout_with_class_map(tmp_path):
    root = tmp_path / "ILSVRC"
    (root / "ImageSets" / "DET").mkdir(parents=True)
    (root / "ImageSets" / "DET" / "val1.txt").write_text("ILSVRC2013_val_00000001 1\n")
    ann = root / "Annotations" / "DET" / "val"
    ann.mkdir(parents=True)
    ann.joinpath("ILSVRC2013_val_00000001.xml").write_text(
        voc_xml("ILSVRC2013_val_00000001", 50, 40, [("n02672831", 1, 1, 20, 20, 0), ("n99999999", 1, 1, 5, 5, 0)])
    )
    write_image(root / "Data" / "DET" / "val" / "ILSVRC2013_val_00000001.JPEG", 50, 40)
    cmap = tmp_path / "map_det.txt"
    cmap.write_text("n02691156 2 airplane\nn02672831 1 accordion\n")
    ds = load_voc(root, "val1", class_map=cmap, check_images=True)
    assert ds.kind == "ilsvrc" and ds.is_xml and ds.class_names == ["n02672831", "n02691156"]
    assert ds.display_names == ["accordion", "airplane"] and ds.names_for_report()[0] == "accordion"
    assert ds.records[0].labels.tolist() == [1] and ds.records[0].file.suffix == ".JPEG"
    assert ds.log.counts == {"unknown class dropped": 1}


def test_class_map_formats(tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("car\nbus\n")
    assert read_class_map(p) == (["car", "bus"], ["car", "bus"])
    p.write_text("n1 1 x y z\nbad line here\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_class_map(p)


def test_coco_sparse_ids_crowd_and_bad_boxes(tmp_path):
    images = [
        {"id": 7, "file_name": "a.jpg", "width": 100, "height": 50},
        {"id": 9, "file_name": "b.jpg", "width": 10, "height": 10},
    ]
    anns = [
        {"image_id": 7, "category_id": 90, "bbox": [10, 5, 20, 10]},
        {"image_id": 7, "category_id": 5, "bbox": [0, 0, 100, 50], "iscrowd": 1},
        {"image_id": 7, "category_id": 5, "bbox": [80, 40, 40, 20]},  # clipped
        {"image_id": 7, "category_id": 5, "bbox": [1, 1, 0, 5]},  # zero width
        {"image_id": 7, "category_id": 3, "bbox": [1, 1, 5, 5]},  # unknown category
        {"image_id": 8, "category_id": 5, "bbox": [1, 1, 5, 5]},  # unknown image
    ]
    ann_file = write_coco(
        tmp_path / "annotations" / "instances_val.json", images, anns, [(90, "toothbrush"), (5, "airplane")]
    )
    ds = load_coco(ann_file)
    assert ds.class_names == ["airplane", "toothbrush"] and ds.category_ids == [5, 90]
    a, b = ds.records
    np.testing.assert_array_equal(a.boxes, np.array([[10, 5, 30, 15], [0, 0, 100, 50], [80, 40, 100, 50]], np.float32))
    assert a.labels.tolist() == [2, 1, 1] and a.iscrowd.tolist() == [False, True, False]
    assert b.image_id == 9 and len(b.boxes) == 0  # image without annotations kept
    assert ds.log.counts == {
        "unknown class dropped": 1,
        "annotation for an unknown image dropped": 1,
        "zero-area or inverted box dropped": 1,
        "box outside the image clipped": 1,
    }
    assert len(load_coco(ann_file, check_images=True).records) == 0  # neither image file exists


def test_coco_malformed_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(DatasetError) as err:
        load_coco(bad)
    assert str(err.value).startswith(str(bad)) and "malformed JSON at line 1" in str(err.value)
    bad.write_text('{"foo": 1}')
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        load_coco(bad)
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="needs --split"):
        load_dataset(tmp_path)


needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")


@needs_shared
def test_real_bccd():
    ds = load_voc(SHARED_DATA / "bccd", "test", check_images=True)
    assert (len(ds), ds.class_names) == (72, ["Platelets", "RBC", "WBC"])
    counts = np.bincount(np.concatenate([r.labels for r in ds.records]), minlength=4)
    assert counts.tolist() == [0, 69, 805, 71]
    full = load_voc(SHARED_DATA / "bccd", "trainval")
    assert full.log.counts == {"zero-area or inverted box dropped": 2}
    assert "BloodImage_00338.xml" in full.log.summary() and "BloodImage_00343.xml" in full.log.summary()
    assert all(r.width == 640 and r.height == 480 for r in full.records)


@needs_shared
def test_real_coco_tiny():
    ds = load_coco(SHARED_DATA / "coco_tiny" / "annotations" / "instances_val2017.json", check_images=True)
    assert len(ds) == 80 and ds.num_classes == 80 and max(ds.category_ids) == 90
    assert sum(len(r.boxes) for r in ds.records) == 815
    assert sum(int(r.iscrowd.sum()) for r in ds.records) == 11
    assert ds.records[0].file.is_file() and not ds.log.counts


@needs_shared
def test_real_ilsvrc_det_class_map():
    ids, names = read_class_map(SHARED_DATA / "meta" / "ilsvrc2014_det_200_synsets.txt")
    assert len(ids) == 200 and ids[0] == "n02672831" and names[:2] == ["accordion", "airplane"]
