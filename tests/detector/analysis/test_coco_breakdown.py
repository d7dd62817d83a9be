"""COCO's PR breakdown: C75 and C50 are pycocotools' AP75 and AP50; each curve forgives more."""

import numpy as np
import pytest

from detector.analysis.coco_breakdown import KINDS, coco_breakdown
from detector.analysis.groups import class_groups
from detector.data import load_dataset
from detector.eval.coco_eval import coco_evaluate
from detector.eval.results import DetectionArrays, arrays_to_results
from tests.detector.data.builders import write_coco


@pytest.fixture
def coco(tmp_path):
    """12 images, 3 classes (cat and dog share a supercategory), 1-3 objects each, one crowd."""
    rng = np.random.default_rng(1)
    images, anns = [], []
    for i in range(1, 13):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 320, "height": 240})
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.random(2) * [220, 140]
            anns.append(
                {"image_id": i, "category_id": int(rng.choice([1, 2, 5])), "bbox": [x, y, *(rng.random(2) * 80 + 20)]}
            )
    anns[0]["iscrowd"] = 1
    path = write_coco(
        tmp_path / "annotations" / "instances_val.json", images, anns, [(1, "cat"), (2, "dog"), (5, "car")]
    )
    import json

    data = json.loads(path.read_text())
    for c, sup in zip(data["categories"], ["animal", "animal", "vehicle"], strict=True):
        c["supercategory"] = sup
    path.write_text(json.dumps(data))
    return load_dataset(str(path), None, None, None)


def _noisy_detections(dataset, rng):
    """Jittered copies of the ground truth (some with the wrong class), plus boxes on nothing."""
    rows = []
    for i, r in enumerate(dataset.records):
        for b, lab in zip(r.boxes, r.labels, strict=True):
            for _ in range(2):
                jitter = rng.normal(0, 8, 4)
                wrong = rng.random() < 0.3
                rows.append((i, (lab % 3) + 1 if wrong else lab, rng.random(), *(b + jitter)))
        for _ in range(2):
            x, y = rng.random(2) * 250
            rows.append((i, int(rng.integers(1, 4)), rng.random() * 0.5, x, y, x + 40, y + 40))
    a = np.array(rows, np.float64)
    return DetectionArrays(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3:7])


def test_c75_and_c50_are_pycocotools_ap75_and_ap50(coco):
    dets = _noisy_detections(coco, np.random.default_rng(0))
    assert coco.supercategories == ["animal", "animal", "vehicle"]
    groups, _ = class_groups(coco)
    out = coco_breakdown(coco, dets, groups)
    stats = coco_evaluate(coco, arrays_to_results(coco, dets), dets)["stats"]  # pycocotools on the file
    assert out["overall"]["C75"] == pytest.approx(stats["AP75"], abs=1e-12)
    assert out["overall"]["C50"] == pytest.approx(stats["AP50"], abs=1e-12)
    for per in [out["overall"], *[p for p in out["per_class"].values() if p]]:
        values = [per[k] for k in KINDS]
        assert values == sorted(values) and values[-1] == 1.0  # each curve forgives more
    assert out["overall"]["Sim"] < out["overall"]["Oth"]  # some confusions are across groups


def test_a_dog_on_a_cat_is_forgiven_as_similar(coco):
    """Every cat detected twice: once right, once as a dog. The dogs' AP at IoU 0.1 (Loc) pays for
    the confusion; Sim forgives it, as cat and dog share a supercategory."""
    rows = []
    for i, r in enumerate(coco.records):
        for b, lab in zip(r.boxes, r.labels, strict=True):
            rows.append((i, lab, 0.5, *b))
            if lab == 1:
                rows.append((i, 2, 0.9, *b))
    a = np.array(rows, np.float64)
    dets = DetectionArrays(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3:7])
    out = coco_breakdown(coco, dets, class_groups(coco)[0])
    dog = out["per_class"]["dog"]
    assert dog["Loc"] < 1.0 and dog["Sim"] == pytest.approx(1.0)
    # with every class its own group, the confusion is forgiven only at Oth
    alone = coco_breakdown(coco, dets, np.arange(4))["per_class"]["dog"]
    assert alone["Sim"] == pytest.approx(dog["Loc"]) and alone["Oth"] == pytest.approx(1.0)
