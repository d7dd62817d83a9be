"""Results-format frame conversion round trips, and top-k classification error."""

import numpy as np
import pytest
import torch

from detector.data.records import DatasetError
from detector.eval import DetectionArrays, arrays_to_results, read_results, results_to_arrays, topk_error, write_results

from .conftest import make_voc_dataset


def test_xml_results_are_one_based_inclusive_and_round_trip(tmp_path):
    ds = make_voc_dataset({"img7": [("cat", 11, 21, 30, 40, 0)]}, ["cat", "dog"])
    arrays = DetectionArrays(
        np.array([0, 0]), np.array([1, 2]), np.array([0.9, 0.25]), ds.records[0].boxes[[0, 0]].astype(np.float64)
    )
    res = arrays_to_results(ds, arrays)
    # internal (10, 20, 30, 40) <-> XML xmin 11, xmax 30: bbox [11, 21, 20, 20]
    assert res[0] == {"image_id": "img7", "category_id": "cat", "bbox": [11.0, 21.0, 20.0, 20.0], "score": 0.9}
    assert res[1]["category_id"] == "dog"
    back, dropped = results_to_arrays(read_results(write_results(tmp_path / "r.json", res)), ds)
    assert not dropped
    np.testing.assert_array_equal(back.boxes, arrays.boxes)
    np.testing.assert_array_equal(back.labels, arrays.labels)


def test_coco_results_keep_coco_frame():
    from detector.data.records import AnnotationLog, DetectionDataset, ImageRecord

    rec = ImageRecord(42, "x.jpg", 10, 10, **ImageRecord.empty_arrays())
    ds = DetectionDataset("c", "coco", [rec], ["a"], [17], AnnotationLog("c"))
    arrays, _ = results_to_arrays([{"image_id": 42, "category_id": 17, "bbox": [1.5, 2, 3, 4], "score": 1}], ds)
    np.testing.assert_array_equal(arrays.boxes, [[1.5, 2, 4.5, 6]])
    assert arrays_to_results(ds, arrays)[0]["bbox"] == [1.5, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"a": 1}', "expected a JSON list"),
        ('[{"image_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]', "detection 0 is not"),
        ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 1}]', "detection 0 is not"),
        ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": "high"}]', "non-numeric score"),
        ("[", "malformed JSON"),
    ],
)
def test_malformed_results(tmp_path, content, match):
    p = tmp_path / "dets.json"
    p.write_text(content)
    with pytest.raises(DatasetError, match=match) as err:
        read_results(p)
    assert str(err.value).startswith(str(p)) and "\n" not in str(err.value)


def test_topk_error_by_hand():
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.35, 0.25, 0.4]])
    labels = torch.tensor([1, 2, 0, 0])
    # top-1 right: image 0 only; top-2 right: images 0, 1 (label 2 ranks second) and 3 (label 0 second)
    res = topk_error(scores, labels, ks=(1, 2, 5))
    assert res["top1_error"] == pytest.approx(0.75)
    assert res["top2_error"] == pytest.approx(0.25)
    assert res["top5_error"] == 0.0  # k beyond the class count: every label is in
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        topk_error(scores[0], labels)


def test_topk_error_against_numpy():
    g = torch.Generator().manual_seed(0)
    scores, labels = torch.rand(500, 100, generator=g), torch.randint(0, 100, (500,), generator=g)
    ranks = (scores > scores.gather(1, labels[:, None])).sum(1).numpy()  # classes scored above the label
    res = topk_error(scores, labels)
    assert res["top1_error"] == pytest.approx(np.mean(ranks >= 1))
    assert res["top5_error"] == pytest.approx(np.mean(ranks >= 5))
