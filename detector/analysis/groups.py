"""Class groups: a false positive on an object of another class of the same group is "Sim"
(confused with a similar class), of another group "Oth" (Hoiem et al.; R-CNN Section 3.4).

- VOC: R-CNN's groups, animals (bird, cat, cow, dog, horse, sheep), vehicles (aeroplane,
  bicycle, boat, bus, car, motorbike, train) and furniture (chair, diningtable, sofa); every
  other class is a group of its own.
- COCO: the categories' ``supercategory``.
- ILSVRC DET: each class's parent in the devkit's synset hierarchy (``data/meta_det.mat``:
  ``synsets`` with ``WNID``, ``name``, ``children``; the 200 classes are its leaves), read with
  :func:`read_ilsvrc_groups` and passed as a groups file would be.
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


def _field(entry, name: str):
    """A field of one ``synsets`` entry read by ``scipy.io.loadmat`` (struct arrays come as
    record arrays of 1x1 cells)."""
    v = entry[name]
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.flat[0]
    if isinstance(v, np.ndarray) and v.dtype.kind in "US":
        return str(v.flat[0]) if v.size else ""
    return v


def read_ilsvrc_groups(meta_file: str | Path, class_names: list[str]) -> dict[str, str]:
    """``{class (WNID): parent synset name}`` from ILSVRC's ``meta_det.mat``: the synset whose
    ``children`` (1-based indices into ``synsets``) hold the class. Classes without a parent
    there keep a group of their own."""
    from scipy.io import loadmat  # start-up cost: ~0.2 s, paid only with a meta_det.mat

    path = Path(meta_file)
    if not path.is_file():
        raise DatasetError(f"{path}: ILSVRC meta file not found")
    try:
        synsets = loadmat(str(path))["synsets"].ravel()
        fields = synsets.dtype.names or ()
        wnids = [_field(e, "WNID") for e in synsets]
        names = [_field(e, "name") for e in synsets]
        children = [np.asarray(_field(e, "children"), np.int64).ravel() for e in synsets]
    except Exception as e:  # noqa: BLE001 - any layout problem is the file's
        raise DatasetError(f"{path}: not an ILSVRC meta_det.mat with synsets (WNID, name, children): {e}") from None
    if "children" not in fields or not any(len(c) for c in children):
        raise DatasetError(f"{path}: its synsets have no hierarchy (no children); give a --groups file instead")
    parent = {}
    for i, kids in enumerate(children):
        for k in kids:
            if 1 <= k <= len(wnids):
                parent.setdefault(wnids[k - 1], names[i])
    return {c: parent[c] for c in class_names if c in parent}


def class_groups(dataset: DetectionDataset, groups_file: str | Path | None = None) -> tuple[np.ndarray, str]:
    """``([K+1] int64 group id of each label, background 0 in a group of its own), source)``.
    ``groups_file`` is a ``<class> <group>`` file or ILSVRC's ``meta_det.mat``.
    ``source`` says where the grouping came from (``"voc"``, ``"coco supercategories"``, the
    file, or ``"none"``)."""
    names = dataset.class_names
    if groups_file is not None and Path(groups_file).suffix == ".mat":
        mapping, source = read_ilsvrc_groups(groups_file, names), f"WordNet parents from {groups_file}"
    elif groups_file is not None:
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
