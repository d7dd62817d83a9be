"""Hoiem detection types, class groups and the confusion matrix on hand-built cases."""

import numpy as np
import pytest

from detector.analysis.confusion import confusion_matrix
from detector.analysis.fp_types import BG, COR, IGNORED, LOC, OTH, SIM, TYPES, detection_types, shares_at, top_shares
from detector.analysis.groups import class_groups
from detector.data.records import DatasetError
from detector.eval.results import DetectionArrays
from tests.detector.eval.conftest import make_voc_dataset

CLASSES = ["cat", "dog", "car", "person"]  # cat/dog: animals; car: vehicles; person: its own group


def _dets(rows):
    """rows: (image index, class, x1, y1, x2, y2, score), continuous xyxy."""
    a = np.array([[r[0], CLASSES.index(r[1]) + 1, *r[2:]] for r in rows], np.float64).reshape(-1, 7)
    return DetectionArrays(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 6], a[:, 2:6])


@pytest.fixture
def dataset():
    # image 0: a cat at [0, 0, 100, 100], a car at [200, 0, 300, 100], a difficult dog at [0, 200, 100, 300]
    # image 1: a person at [0, 0, 100, 100]  (XML boxes are 1-based inclusive: +1 on the first corner)
    return make_voc_dataset(
        {
            "a": [("cat", 1, 1, 100, 100, 0), ("car", 201, 1, 300, 100, 0), ("dog", 1, 201, 100, 300, 1)],
            "b": [("person", 1, 1, 100, 100, 0)],
        },
        CLASSES,
    )


def test_each_detection_gets_exactly_one_type(dataset):
    groups, source = class_groups(dataset)
    assert source == "voc" and groups[1] == groups[2] != groups[3] != groups[4]
    dets = _dets([
        (0, "cat", 0, 0, 100, 100, 0.99),      # Cor
        (0, "cat", 2, 2, 100, 100, 0.98),      # duplicate of the cat: Loc
        (0, "cat", 0, 0, 100, 30, 0.97),       # IoU 0.3 with the cat: Loc
        (0, "dog", 0, 0, 100, 100, 0.96),      # a dog on the cat: Sim (both animals)
        (0, "person", 200, 0, 300, 100, 0.95),  # a person on the car: Oth
        (0, "car", 400, 300, 450, 350, 0.94),  # nothing there: BG
        (0, "dog", 0, 200, 100, 300, 0.93),    # on the difficult dog: ignored
        (1, "person", 0, 0, 100, 100, 0.50),   # Cor
        (1, "dog", 0, 0, 100, 5, 0.40),        # IoU 0.05 with the person: BG
        (1, "cat", 0, 0, 100, 12, 0.30),       # IoU 0.12 with the person: Oth
    ])  # fmt: skip
    types = detection_types(dataset, dets, groups)
    assert types.tolist() == [COR, LOC, LOC, SIM, OTH, BG, IGNORED, COR, BG, OTH]
    # without groups, the dog on the cat is Oth
    assert detection_types(dataset, dets, np.arange(len(CLASSES) + 1))[3] == OTH


def test_shares_sum_to_one_at_every_n(dataset):
    rng = np.random.default_rng(0)
    n = 400
    xy = rng.random((n, 2)) * 300
    rows = [
        (int(rng.integers(0, 2)), CLASSES[rng.integers(0, 4)], *xy[i], *(xy[i] + rng.random(2) * 120 + 5), rng.random())
        for i in range(n)
    ]
    dets = _dets(rows)
    types = detection_types(dataset, dets, class_groups(dataset)[0])
    shares = top_shares(types, dets.scores)
    assert shares.shape == ((types != IGNORED).sum(), len(TYPES))
    np.testing.assert_allclose(shares.sum(1), 1.0)
    # the last row is the plain frequency of each type
    counted = types[types != IGNORED]
    np.testing.assert_allclose(shares[-1], np.bincount(counted, minlength=5) / len(counted))
    top10 = types[np.argsort(-dets.scores, kind="stable")]
    top10 = top10[top10 != IGNORED][:10]
    assert shares_at(types, dets.scores, 10) == {t: np.mean(top10 == k) for k, t in enumerate(TYPES)}


def test_groups_file_and_coco_supercategories(dataset, tmp_path):
    f = tmp_path / "groups.txt"
    f.write_text("# class group\ncat pets\ndog pets\nperson people\n")
    groups, source = class_groups(dataset, f)
    assert source == str(f) and groups[1] == groups[2] and len(set(groups[1:].tolist())) == 3
    f.write_text("cow farm\n")
    with pytest.raises(DatasetError, match="line 1: class 'cow' is not one of the dataset's classes"):
        class_groups(dataset, f)
    dataset.supercategories = ["animal", "animal", "vehicle", "person"]
    groups, source = class_groups(dataset)
    assert source == "coco supercategories" and groups[1] == groups[2] != groups[3]


def test_confusion_matrix_counts_by_hand(dataset):
    dets = _dets([
        (0, "cat", 0, 0, 100, 100, 0.9),       # cat -> cat
        (0, "cat", 1, 1, 100, 100, 0.8),       # duplicate: background -> cat
        (0, "dog", 200, 0, 300, 100, 0.7),     # car -> dog
        (0, "dog", 0, 200, 100, 300, 0.9),     # on the difficult dog: not counted
        (1, "car", 300, 300, 350, 350, 0.6),   # background -> car
        (1, "person", 0, 0, 100, 100, 0.3),    # under the score threshold: the person is missed
    ])  # fmt: skip
    m = confusion_matrix(dataset, dets, score_thresh=0.5)
    want = np.zeros((5, 5), np.int64)
    want[1, 1] = 1  # cat -> cat
    want[0, 1] = 1  # duplicate cat
    want[3, 2] = 1  # car taken by a dog
    want[0, 3] = 1  # a car on background
    want[4, 0] = 1  # the person, missed
    np.testing.assert_array_equal(m, want)
    assert confusion_matrix(dataset, dets, score_thresh=0.0)[4, 4] == 1  # with it, found


def test_ilsvrc_groups_are_wordnet_parents_from_meta_det(tmp_path):
    """A meta_det.mat laid out as the devkit's: synsets (DET id, WNID, name, children), leaves
    first, then the hierarchy's inner nodes whose children index the synsets (1-based)."""
    from scipy.io import savemat

    rows = [
        ("n02084071", "dog", []),
        ("n02121808", "domestic cat", []),
        ("n02958343", "car", []),
        ("n04509417", "unicycle", []),
        ("n00015388", "animal", [1, 2]),
        ("n03791235", "motor vehicle", [3]),
    ]
    dtype = [("ILSVRC2014_DET_ID", "O"), ("WNID", "O"), ("name", "O"), ("children", "O")]
    synsets = np.array(
        [(np.array([[i + 1]]), w, n, np.array([c], dtype=float)) for i, (w, n, c) in enumerate(rows)], dtype=dtype
    )
    meta = tmp_path / "meta_det.mat"
    savemat(meta, {"synsets": synsets.reshape(1, -1)})
    wnids = ["n02084071", "n02121808", "n02958343", "n04509417"]
    ds = make_voc_dataset({"a": [("n02084071", 1, 1, 10, 10, 0)]}, wnids)
    groups, source = class_groups(ds, meta)
    assert source == f"WordNet parents from {meta}"
    assert groups[1] == groups[2] != groups[3] and groups[4] not in groups[1:4]  # the unicycle has no parent here
    flat = tmp_path / "flat.mat"
    savemat(
        flat,
        {"synsets": np.array([(np.array([[1]]), "n02084071", "dog", np.zeros((1, 0)))], dtype=dtype).reshape(1, -1)},
    )
    with pytest.raises(DatasetError, match="have no hierarchy"):
        class_groups(ds, flat)
