"""Class groups: a false positive on an object of another class of the same group is "Sim"
(confused with a similar class), of another group "Oth" (Hoiem et al.; R-CNN Section 3.4).

- VOC: R-CNN's groups, animals (bird, cat, cow, dog, horse, sheep), vehicles (aeroplane,
  bicycle, boat, bus, car, motorbike, train) and furniture (chair, diningtable, sofa); every
  other class is a group of its own.
- COCO: the categories' ``supercategory``.
- Any dataset: a file of ``<class> <group>`` lines (``--groups``), classes by name as the
  dataset writes them; classes it leaves out are groups of their own.
- Otherwise every class is its own group: every confusion is "Oth".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.records import DatasetError, DetectionDataset

VOC_GROUPS = {
    "animals": ("bird", "cat", "cow", "dog", "horse", "sheep"),
    "vehicles": ("aeroplane", "bicycle", "boat", "bus", "car", "motorbike", "train"),
    "furniture": ("chair", "diningtable", "sofa"),
}


def read_groups_file(path: str | Path, class_names: list[str]) -> dict[str, str]:
    """``{class: group}`` from ``<class> <group>`` lines; an unknown class is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: groups file not found")
    known, out = set(class_names), {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2:
            raise DatasetError(f"{path}: line {n}: expected '<class> <group>', got {line!r}")
        if parts[0] not in known:
            raise DatasetError(f"{path}: line {n}: class {parts[0]!r} is not one of the dataset's classes")
        out[parts[0]] = parts[1]
    return out


def class_groups(dataset: DetectionDataset, groups_file: str | Path | None = None) -> tuple[np.ndarray, str]:
    """``([K+1] int64 group id of each label, background 0 in a group of its own), source)``.
    ``source`` says where the grouping came from (``"voc"``, ``"coco supercategories"``, the
    file, or ``"none"``)."""
    names = dataset.class_names
    if groups_file is not None:
        mapping, source = read_groups_file(groups_file, names), str(groups_file)
    elif dataset.supercategories:
        mapping, source = dict(zip(names, dataset.supercategories, strict=True)), "coco supercategories"
    elif dataset.kind == "voc" and any(n in VOC_GROUPS["vehicles"] for n in names):
        mapping = {c: g for g, members in VOC_GROUPS.items() for c in members}
        source = "voc"
    else:
        mapping, source = {}, "none"
    ids: dict[str, int] = {}
    out = np.zeros(len(names) + 1, np.int64)
    for lab, name in enumerate(names, 1):
        key = mapping.get(name, f"class:{name}")
        out[lab] = ids.setdefault(key, len(ids) + 1)
    return out, source
