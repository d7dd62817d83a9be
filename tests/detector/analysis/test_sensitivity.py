"""AP by object size: objects outside a bin and false positives outside it are not counted."""

import numpy as np
import pytest

from detector.analysis.sensitivity import sensitivity
from detector.eval.results import DetectionArrays
from tests.detector.eval.conftest import make_voc_dataset


def test_size_bins_count_only_their_objects_and_errors():
    rng = np.random.default_rng(0)
    sides = rng.uniform(8, 200, 100)  # square objects, one per image
    ds = make_voc_dataset({f"i{k}": [("a", 1, 1, s, s, 0)] for k, s in enumerate(sides)}, ["a"])
    area = sides**2
    edges = np.percentile(area, (10, 30, 70, 90))
    big = np.flatnonzero(area >= edges[2])  # the L and XL objects: found exactly
    rows = [(k, 0.9, 0, 0, sides[k], sides[k]) for k in big]
    tiny = np.sqrt(edges[0]) / 2  # false positives of XS size, scoring higher than everything
    rows += [(k, 0.95, 300, 300, 300 + tiny, 300 + tiny) for k in range(20)]
    a = np.array(rows, np.float64)
    dets = DetectionArrays(a[:, 0].astype(np.int64), np.ones(len(a), np.int64), a[:, 1], a[:, 2:6])
    out = sensitivity(ds, dets)["size"]
    assert out["bins"] == ["XS", "S", "M", "L", "XL"]
    np.testing.assert_allclose(out["edges"], edges)
    assert out["AP"] == pytest.approx([0.0, 0.0, 0.0, 1.0, 1.0])  # the XS false positives cost L and XL nothing
    assert out["per_class"]["a"] == out["AP"]
    aspect = sensitivity(ds, dets)["aspect"]
    assert aspect["bins"] == ["XT", "T", "M", "W", "XW"] and len(aspect["AP"]) == 5
