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
    for ann in annotations:
        img_id, bbox = ann.get("image_id"), ann.get("bbox")
        if img_id not in images:
            log.add("annotation for an unknown image dropped", ann_file, f"image_id {img_id}")
            continue
        file_name = images[img_id].get("file_name", str(img_id))
        if ann.get("category_id") not in label_of:
            log.add("unknown class dropped", file_name, f"category_id {ann.get('category_id')}")
            continue
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            log.add("malformed box dropped", file_name, f"bbox {bbox!r}")
            continue
        per_image[img_id].append((bbox, label_of[ann["category_id"]], bool(ann.get("iscrowd", 0))))
    return per_image


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
    try:
        cats = sorted(data["categories"], key=lambda c: c["id"])
        cat_ids = [int(c["id"]) for c in cats]
        names = [str(c["name"]) for c in cats]
        supers = [str(c["supercategory"]) if c.get("supercategory") else None for c in cats]
        images = {int(im["id"]): im for im in data["images"]}
    except (KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"{ann_file}: malformed 'images' or 'categories' entry ({type(e).__name__}: {e})") from None
    label_of = {c: i + 1 for i, c in enumerate(cat_ids)}

    per_image = _annotations_by_image(data.get("annotations", []), images, label_of, ann_file, log)

    records = []
    for img_id, im in images.items():
        file = image_dir / str(im.get("file_name", ""))
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
