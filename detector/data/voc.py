"""PASCAL VOC and ILSVRC DET XML in the VOC folder layout -> :class:`DetectionDataset`.

Layouts (``root`` is the folder holding them):

- VOC: ``ImageSets/Main/<split>.txt`` (one id per line), ``Annotations/<id>.xml``,
  ``JPEGImages/<filename>``.
- ILSVRC: ``ImageSets/DET/<split>.txt`` (``<id> <index>`` per line), ``Annotations/DET/<split>/<id>.xml``
  and ``Data/DET/<split>/<id>.JPEG``; splits carved out of val (R-CNN's ``val1``/``val2``) fall
  back to the ``val`` folders. Objects are named by synset id; ``map_det.txt`` (``synset index
  name`` per line) gives the class order and human-readable names.

XML boxes are 1-based inclusive pixels; they become continuous ``(xmin - 1, ymin - 1, xmax,
ymax)`` (see :mod:`detector.data.records`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .records import AnnotationLog, DatasetError, DetectionDataset, ImageRecord, sanitize_boxes, stays_inside


@dataclass
class _Parsed:
    image_id: str
    xml: Path
    image: Path
    width: int
    height: int
    names: list[str]
    boxes: np.ndarray  # [N, 4] raw XML xmin, ymin, xmax, ymax
    difficult: np.ndarray
    truncated: np.ndarray


def read_class_map(path: str | Path) -> tuple[list[str], list[str]]:
    """Read ``map_det.txt`` (``synset index name...``) or a plain one-name-per-line list.

    Returns ``(ids, display_names)`` in index order (file order for a plain list)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: class map not found")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) >= 3 and parts[1].isdigit():
            rows.append((int(parts[1]), parts[0], " ".join(parts[2:])))
        elif len(parts) == 1:
            rows.append((n, parts[0], parts[0]))
        else:
            raise DatasetError(f"{path}: line {n}: expected 'synset index name' or one class name, got {line!r}")
    rows.sort(key=lambda r: r[0])
    ids = [r[1] for r in rows]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: duplicate class ids")
    return ids, [r[2] for r in rows]


def _layout(root: Path, split: str) -> tuple[str, Path]:
    for kind, lst in (
        ("voc", root / "ImageSets" / "Main" / f"{split}.txt"),
        ("ilsvrc", root / "ImageSets" / "DET" / f"{split}.txt"),
    ):
        if lst.is_file():
            return kind, lst
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    raise DatasetError(f"{root}: no split list ImageSets/Main/{split}.txt (VOC) or ImageSets/DET/{split}.txt (ILSVRC)")


def _first_existing(cands: list[Path]) -> Path:
    return next((c for c in cands if c.exists()), cands[0])


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text else None


def _plain_name(name: str) -> bool:
    """Whether ``name`` is one path component that stays in its folder (no separator, not ``.`` or
    ``..``): a ``<filename>``."""
    return "/" not in name and stays_inside(name)


def read_split_ids(list_file: Path, log: AnnotationLog) -> list[str]:
    """The image ids of a split list (first word of each line), in order; an id listed again is
    ignored with a counted warning, and one that leaves its folder (:func:`~.records.stays_inside`) is a one-line error."""
    ids, seen = [], set()
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        image_id = line.split()[0]
        if not stays_inside(image_id):
            raise DatasetError(
                f"{list_file}: line {n}: image id {image_id!r} leaves the dataset folder (absolute or '..')"
            )
        if image_id in seen:
            log.add("image id listed twice, repeat ignored", list_file, image_id)
            continue
        seen.add(image_id)
        ids.append(image_id)
    return ids


def _parse_xml(image_id: str, xml: Path, image_cands: list[Path], log: AnnotationLog) -> _Parsed | None:
    try:
        tree = ET.parse(xml).getroot()
    except ET.ParseError as e:
        raise DatasetError(f"{xml}: malformed XML: {e}") from None
    filename = _text(tree, "filename")
    if filename and not _plain_name(filename):
        raise DatasetError(f"{xml}: <filename> {filename!r} is not a plain file name (no folders, no '..')")
    if filename and not Path(filename).suffix:  # ILSVRC writes the stem only
        filename = None
    image = _first_existing(([c.parent / filename for c in image_cands] if filename else []) + image_cands)
    size = tree.find("size")
    try:
        width, height = int(float(_text(size, "width") or 0)), int(float(_text(size, "height") or 0))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        if not image.is_file():
            log.add("no image size and no image file, image dropped", xml)
            return None
        try:
            with Image.open(image) as im:
                width, height = im.size
        except (OSError, ValueError, Image.DecompressionBombError):  # UnidentifiedImageError is an OSError
            log.add("no image size and an unreadable image, image dropped", xml, image.name)
            return None
    names, boxes, difficult, truncated = [], [], [], []
    for obj in tree.iter("object"):
        name, bb = _text(obj, "name"), obj.find("bndbox")
        try:
            coords = [float(_text(bb, t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError):
            log.add("malformed box dropped", xml, f"object {name!r}")
            continue
        if not name:
            log.add("object without a name dropped", xml)
            continue
        names.append(name)
        boxes.append(coords)
        difficult.append((_text(obj, "difficult") or "0") not in ("0", "false"))
        truncated.append((_text(obj, "truncated") or "0") not in ("0", "false"))
    return _Parsed(
        image_id,
        xml,
        image,
        width,
        height,
        names,
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(difficult, bool),
        np.array(truncated, bool),
    )


def _parse_split(root: Path, kind: str, split: str, ids: list[str], log: AnnotationLog) -> list[_Parsed]:
    """Each listed image's annotation file, parsed; a missing or unreadable one is logged and left out."""
    parsed = []
    for image_id in ids:
        if kind == "voc":
            xml = root / "Annotations" / f"{image_id}.xml"
            image_cands = [root / "JPEGImages" / f"{image_id}.jpg"]
        else:
            folders = dict.fromkeys([split, "val", "train"])
            xml = _first_existing([root / "Annotations" / "DET" / f / f"{image_id}.xml" for f in folders])
            image_cands = [root / "Data" / "DET" / f / f"{image_id}.JPEG" for f in folders]
        if not xml.is_file():
            log.add("annotation file missing, image dropped", xml)
            continue
        p = _parse_xml(image_id, xml, image_cands, log)
        if p is not None:
            parsed.append(p)
    return parsed


def _record(p: _Parsed, label_of: dict[str, int], log: AnnotationLog) -> ImageRecord:
    """One parsed image as a record: its boxes of known classes in the continuous frame (the
    1-based inclusive corners moved by -1 on the top left), degenerate and outside ones dropped."""
    known = np.array([n in label_of for n in p.names], bool)
    for n in sorted({n for n in p.names if n not in label_of}):
        log.add("unknown class dropped", p.xml, n, n=p.names.count(n))
    raw = p.boxes[known]
    boxes = np.concatenate([raw[:, :2] - 1.0, raw[:, 2:]], 1) if len(raw) else raw
    # degenerate means no extent as annotated (xmax <= xmin), not after the +1 of inclusive widths
    keep = ~((raw[:, 2] <= raw[:, 0]) | (raw[:, 3] <= raw[:, 1]))
    log.add("zero-area or inverted box dropped", p.xml, n=int((~keep).sum()))
    labels = np.array([label_of[n] for n, k in zip(p.names, known, strict=True) if k], np.int64)[keep]
    boxes = boxes[keep]
    keep2 = sanitize_boxes(boxes, p.width, p.height, p.xml, log)
    return ImageRecord(p.image_id, p.image, p.width, p.height, boxes=boxes[keep2], labels=labels[keep2],
                       difficult=p.difficult[known][keep][keep2], iscrowd=np.zeros(int(keep2.sum()), bool),
                       truncated=p.truncated[known][keep][keep2])  # fmt: skip


def load_voc(
    root: str | Path,
    split: str,
    class_map: str | Path | None = None,
    class_names: list[str] | None = None,
    check_images: bool = False,
) -> DetectionDataset:
    """Read a VOC- or ILSVRC-layout split.

    Args:
        root: the dataset folder (see the module docstring).
        split: the name of a list in ``ImageSets`` (``train``, ``val``, ``test``, ``val1``...).
        class_map: ``map_det.txt``-style file fixing the classes and their order.
        class_names: the classes in order (e.g. a training set's); ignored with ``class_map``.
        check_images: drop (with a counted warning) images whose file is missing.
    Without either, the classes are the sorted names found in the split. Objects of other
    classes are dropped with a counted warning.
    """
    root = Path(root)
    kind, list_file = _layout(root, split)
    log = AnnotationLog(f"{root.name}/{split}")
    ids = read_split_ids(list_file, log)
    parsed = _parse_split(root, kind, split, ids, log)
    display = None
    if class_map is not None:
        names, display = read_class_map(class_map)
    elif class_names is not None:
        names = list(class_names)
    else:  # from the annotations, whether or not their images are there
        names = sorted({n for p in parsed for n in p.names})
    if check_images:
        for p in parsed:
            if not p.image.is_file():
                log.add("missing image file, image dropped", p.image)
        parsed = [p for p in parsed if p.image.is_file()]
    label_of = {n: i + 1 for i, n in enumerate(names)}
    records = [_record(p, label_of, log) for p in parsed]
    return DetectionDataset(f"{root.name}/{split}", kind, records, names, list(names), log, display_names=display)
