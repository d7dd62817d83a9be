"""COCO instances JSON -> :class:`DetectionDataset` (sparse category ids, crowd boxes, images
without annotations kept)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .records import AnnotationLog, DatasetError, DetectionDataset, ImageRecord, sanitize_boxes


def _default_image_dir(ann_file: Path) -> Path:
    """``.../annotations/instances_val2017.json`` -> ``.../val2017`` (or ``.../images/val2017``,
    or a VOC-style ``.../JPEGImages``) when that folder exists."""
    split = ann_file.stem.split("_", 1)[-1]
    root = ann_file.parent.parent
    for cand in (root / split, ann_file.parent / split, root / "images" / split, root / "JPEGImages"):
        if cand.is_dir():
            return cand
    return ann_file.parent


def read_json(path: Path) -> object:
    """Parse a JSON file; a missing or malformed file is a one-line :class:`DatasetError`."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not a text JSON file ({e.reason})") from None


def _annotations_by_image(
    annotations: list, images: dict[int, dict], label_of: dict[int, int], ann_file: Path, log: AnnotationLog
) -> dict[int, list[tuple[list[float], int, bool]]]:
    """``{image id: [(xywh bbox, label, iscrowd)]}``; entries naming an unknown image or class,
    or holding a malformed box, are dropped and counted."""
    per_image: dict[int, list[tuple[list[float], int, bool]]] = defaultdict(list)
    for n, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise DatasetError(f"{ann_file}: annotation {n} is not an object: {ann!r:.60}")
        img_id, bbox = ann.get("image_id"), ann.get("bbox")
        if isinstance(img_id, (list, dict)) or img_id not in images:
            log.add("annotation for an unknown image dropped", ann_file, f"image_id {img_id}")
            continue
        file_name = images[img_id].get("file_name", str(img_id))
        if isinstance(ann.get("category_id"), (list, dict)) or ann.get("category_id") not in label_of:
            log.add("unknown class dropped", file_name, f"category_id {ann.get('category_id')}")
            continue
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            log.add("malformed box dropped", file_name, f"bbox {bbox!r}")
            continue
        per_image[img_id].append((bbox, label_of[ann["category_id"]], bool(ann.get("iscrowd", 0))))
    return per_image


def _int(value, what: str, ann_file: Path, positive: bool = False) -> int:
    """``value`` as an int (a whole float too), or a one-line DatasetError naming ``what``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
    if not ok or (positive and value <= 0):
        kind = "a positive integer" if positive else "an integer"
        raise DatasetError(f"{ann_file}: {what} must be {kind}, got {value!r:.40}")
    return int(value)


def _categories(cats: list, ann_file: Path) -> tuple[list[int], list[str], list[str | None]]:
    """``(ids ascending, names, supercategories)``; a malformed or repeated entry is a one-line error."""
    for n, c in enumerate(cats):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise DatasetError(f"{ann_file}: category {n} is not an object with 'id' and 'name': {c!r:.60}")
        _int(c["id"], f"category {n}'s 'id'", ann_file)
    cats = sorted(cats, key=lambda c: c["id"])
    ids = [int(c["id"]) for c in cats]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{ann_file}: category ids are not unique")
    return (
        ids,
        [str(c["name"]) for c in cats],
        [str(c["supercategory"]) if c.get("supercategory") else None for c in cats],
    )


def _images(entries: list, ann_file: Path) -> dict[int, dict]:
    """``{image id: entry}``; an entry without an integer ``id``, a positive ``width`` and
    ``height`` and a ``file_name``, or an id listed twice, is a one-line error."""
    images: dict[int, dict] = {}
    for n, im in enumerate(entries):
        if not isinstance(im, dict):
            raise DatasetError(f"{ann_file}: image {n} is not an object: {im!r:.60}")
        for key in ("id", "width", "height", "file_name"):
            if key not in im:
                raise DatasetError(f"{ann_file}: image {n} (id {im.get('id')!r}) has no '{key}'")
        img_id = _int(im["id"], f"image {n}'s 'id'", ann_file)
        for key in ("width", "height"):
            im[key] = _int(im[key], f"image {img_id}'s '{key}'", ann_file, positive=True)
        if not isinstance(im["file_name"], str) or not im["file_name"]:
            raise DatasetError(f"{ann_file}: image {img_id}'s 'file_name' must be a non-empty string")
        if img_id in images:
            raise DatasetError(f"{ann_file}: image id {img_id} is listed twice")
        images[img_id] = im
    return images


def load_coco(
    ann_file: str | Path, image_dir: str | Path | None = None, check_images: bool = False
) -> DetectionDataset:
    """Read a COCO instances file.

    Args:
        ann_file: ``instances_*.json``.
        image_dir: folder of ``file_name``s; default: the split folder beside ``annotations/``.
        check_images: drop (with a counted warning) images whose file is missing.
    Returns:
        records in the file's image order; labels ``1..K`` follow ascending category id.
    """
    ann_file = Path(ann_file)
    data = read_json(ann_file)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("images"), list)
        or not isinstance(data.get("categories"), list)
    ):
        raise DatasetError(f"{ann_file}: not a COCO instances file (expected 'images' and 'categories' lists)")
    image_dir = Path(image_dir) if image_dir is not None else _default_image_dir(ann_file)
    log = AnnotationLog(str(ann_file))
    cat_ids, names, supers = _categories(data["categories"], ann_file)
    images = _images(data["images"], ann_file)
    label_of = {c: i + 1 for i, c in enumerate(cat_ids)}

    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise DatasetError(f"{ann_file}: 'annotations' must be a list, got {type(annotations).__name__}")
    per_image = _annotations_by_image(annotations, images, label_of, ann_file, log)

    records = []
    for img_id, im in images.items():
        file = image_dir / im["file_name"]
        if check_images and not file.is_file():
            log.add("missing image file, image dropped", file)
            continue
        anns = per_image.get(img_id, [])
        arrays = ImageRecord.empty_arrays()
        if anns:
            xywh = np.array([a[0] for a in anns], np.float32)
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
            keep = sanitize_boxes(boxes, int(im["width"]), int(im["height"]), file, log)
            arrays = {
                "boxes": boxes[keep],
                "labels": np.array([a[1] for a in anns], np.int64)[keep],
                "difficult": np.zeros(int(keep.sum()), bool),
                "iscrowd": np.array([a[2] for a in anns], bool)[keep],
            }
        records.append(ImageRecord(img_id, file, int(im["width"]), int(im["height"]), **arrays))
    groups = supers if all(supers) else None
    return DetectionDataset(
        ann_file.stem, "coco", records, names, cat_ids, log, ann_file=ann_file, supercategories=groups
    )
