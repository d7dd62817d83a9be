"""Running detectors (one, or an ensemble) over a whole split, to COCO-format results."""

from __future__ import annotations

from pathlib import Path

from ..data.records import DetectionDataset
from ..engine.distributed import DistContext
from ..eval.results import arrays_to_results
from .predict import Ensemble, LoadedDetector, detect_dataset, label_map
from .proposals import ensure_proposals


def detect_split(
    members: list[LoadedDetector], dataset: DetectionDataset, proposals: str | Path, ctx: DistContext,
    workers: int = 0,
) -> tuple[list[dict], list[int]]:  # fmt: skip
    """Results entries (the dataset's image and category ids, see :mod:`detector.eval.results`)
    of the ensemble of ``members`` on every image of ``dataset``, and the indices of unreadable
    images. Proposals come from the cache at ``proposals``, computed there first where missing
    with the first member's proposal method."""
    ensemble = Ensemble(members)
    to_dataset = label_map(ensemble.class_names, dataset, members[0].path)
    cache = ensure_proposals(dataset, proposals, members[0].cfg.proposals, ctx)
    arrays, bad = detect_dataset(ensemble.detect, dataset, cache.boxes_for, ensemble.test.max_proposals, ctx, workers)
    arrays.labels = to_dataset[arrays.labels]
    return arrays_to_results(dataset, arrays), bad
