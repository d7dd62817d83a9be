"""Writing the demo dataset in the formats the tools read.

Layout under ``out``::

    cls/{train,val}/<class>/<class>_00000.jpg       ImageFolder (ILSVRC classification layout)
    det/JPEGImages/{train,val}_00000.jpg            detection images, shared by both layouts
    det/Annotations/*.xml, det/ImageSets/Main/*.txt VOC layout (1-based inclusive boxes)
    det/annotations/instances_{train,val}.json      COCO layout (category ids 1..K)
    classes.txt, manifest.json

Every image is a pure function of ``(seed, split, index)``, so the bytes do not depend on the
number of worker processes; ``manifest.json`` is written last and only over a complete dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..config import NonNegInt, Percent, PositiveFloat, PositiveInt, config_to_dict
from ..engine.workers import run_tasks
from ..files import remove_stale_temporaries, sync_folder, write_bytes, write_json, write_text
from .scene import classification_scene, detection_scene
from .shapes import CLASSES

CHUNK = 16  # images per task handed to a worker process
CHUNK_TIMEOUT = 300.0  # seconds one chunk may take before its worker is replaced
_SPLIT_CODE = {"train": 0, "val": 1}
_TASK_CODE = {"cls": 1, "det": 2}


@dataclass
class DemoDataConfig:
    seed: NonNegInt = 0
    cls_size: PositiveInt = 80  # classification images are cls_size x cls_size
    cls_train_per_class: NonNegInt = 400
    cls_val_per_class: NonNegInt = 100
    det_width: PositiveInt = 192
    det_height: PositiveInt = 144
    det_train: NonNegInt = 600
    det_val: NonNegInt = 150
    max_objects: NonNegInt = 5
    min_radius: PositiveFloat = 8.0
    max_radius: PositiveFloat = 40.0
    jpeg_quality: Percent = 92
    workers: NonNegInt = 2


PRESETS = {
    "default": {},
    "tiny": {"cls_train_per_class": 6, "cls_val_per_class": 3, "det_train": 8, "det_val": 4},
}


def _encode(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _make(task: tuple) -> tuple:
    """One image: ``(kind, split, index, label_or_None)`` -> encoded bytes (and objects)."""
    kind, split, index, label, cfg = task
    rng = np.random.default_rng([cfg.seed, _TASK_CODE[kind], _SPLIT_CODE[split], index])
    if kind == "cls":
        return _encode(classification_scene(rng, cfg.cls_size, label), cfg.jpeg_quality), None
    img, objects = detection_scene(
        rng, (cfg.det_height, cfg.det_width), cfg.max_objects, (cfg.min_radius, cfg.max_radius)
    )
    return _encode(img, cfg.jpeg_quality), objects


def _voc_xml(name: str, cfg: DemoDataConfig, objects: list) -> str:
    objs = "".join(
        f"  <object><name>{CLASSES[o.label]}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{o.box[0] + 1}</xmin><ymin>{o.box[1] + 1}</ymin>"
        f"<xmax>{o.box[2]}</xmax><ymax>{o.box[3]}</ymax></bndbox></object>\n"
        for o in objects
    )
    return (
        f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{name}.jpg</filename>\n"
        f"  <source><database>googlenet-detector demo</database></source>\n"
        f"  <size><width>{cfg.det_width}</width><height>{cfg.det_height}</height><depth>3</depth></size>\n"
        f"  <segmented>0</segmented>\n{objs}</annotation>\n"
    )


def _make_folders(out: Path) -> Path:
    """The ImageFolder and VOC/COCO folders under ``out``; returns the detection root."""
    det = out / "det"
    for d in (det / "JPEGImages", det / "Annotations", det / "ImageSets" / "Main", det / "annotations"):
        d.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        for name in CLASSES:
            (out / "cls" / split / name).mkdir(parents=True, exist_ok=True)
    return det


def _add_coco_objects(annotations: list[dict], image_id: int, objects) -> None:
    """Append one image's objects to a COCO ``annotations`` list (``bbox`` is xywh)."""
    for o in objects:
        x1, y1, x2, y2 = o.box
        annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": o.label + 1,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": o.area, "iscrowd": 0})  # fmt: skip


def _tasks(cfg: DemoDataConfig) -> list[tuple]:
    """One ``(kind, split, index, label or None, cfg)`` per image to make, classification first."""
    tasks = []
    for split, per_class in (("train", cfg.cls_train_per_class), ("val", cfg.cls_val_per_class)):
        tasks += [("cls", split, c * per_class + i, c, cfg) for c in range(len(CLASSES)) for i in range(per_class)]
    for split, n in (("train", cfg.det_train), ("val", cfg.det_val)):
        tasks += [("det", split, i, None, cfg) for i in range(n)]
    return tasks


def _make_chunk(chunk: list[tuple]) -> list[tuple]:
    """:func:`_make` over a chunk of tasks (one round trip to a worker process per chunk)."""
    return [_make(t) for t in chunk]


def _worker_init() -> None:
    cv2.setNumThreads(1)  # the worker processes share the cores


def _image_path(out: Path, task: tuple) -> Path:
    kind, split, index, label, cfg = task
    if kind == "cls":
        per_class = cfg.cls_train_per_class if split == "train" else cfg.cls_val_per_class
        name = CLASSES[label]
        return out / "cls" / split / name / f"{name}_{index - label * per_class:05d}.jpg"
    return out / "det" / "JPEGImages" / f"{split}_{index:05d}.jpg"


def _write_images(out: Path, cfg: DemoDataConfig, tasks: list[tuple], progress: bool) -> list[tuple]:
    """Make every image in ``cfg.workers`` spawned processes (:func:`~detector.engine.workers.run_tasks`:
    no fork, bounded waits, a dead worker's chunk retried) and write each as it arrives (atomic
    renames; synced once at the end); returns ``(sha256, objects)`` per task, in task order."""
    chunks = [tasks[i : i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    done: list[tuple | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="demo data", disable=not progress)
    for o in run_tasks(_make_chunk, chunks, cfg.workers, CHUNK_TIMEOUT, retries=2, initializer=_worker_init):
        if o.error is not None:
            raise RuntimeError(
                f"demo data: images {o.index * CHUNK}..{o.index * CHUNK + len(o.task) - 1} failed: {o.error}"
            )
        for k, (task, (data, objects)) in enumerate(zip(o.task, o.value, strict=True)):
            write_bytes(_image_path(out, task), data, durable=False)
            if task[0] == "det":
                stem = f"{task[1]}_{task[2]:05d}"
                write_text(out / "det" / "Annotations" / f"{stem}.xml", _voc_xml(stem, cfg, objects), durable=False)
            done[o.index * CHUNK + k] = (hashlib.sha256(data).digest(), objects)
        bar.update(len(o.task))
    bar.close()
    return done


def make_demo_data(out: str | Path, cfg: DemoDataConfig, progress: bool = True) -> dict:
    """Generate and write the dataset; returns the manifest (counts and a digest of all bytes).

    ``manifest.json`` is removed first and written last (synced, after every other file is), so
    its presence means a complete dataset of its config: a run interrupted half-way leaves none,
    and the next one regenerates everything, first deleting the temporary files a killed run's
    writers left (:func:`~detector.files.remove_stale_temporaries`)."""
    out = Path(out)
    (out / "manifest.json").unlink(missing_ok=True)
    if out.is_dir():
        remove_stale_temporaries(out)
    sync_folder(out)
    tasks = _tasks(cfg)
    det = _make_folders(out)
    made = _write_images(out, cfg, tasks, progress)
    coco = {
        s: {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)]}
        for s in ("train", "val")
    }
    lists: dict[str, list[str]] = {"train": [], "val": []}
    counts = dict.fromkeys(("cls_train", "cls_val", "det_train_images", "det_val_images", "det_train_boxes",
                            "det_val_boxes"), 0)  # fmt: skip
    digest = hashlib.sha256()
    for (kind, split, index, _, _), (sha, objects) in zip(tasks, made, strict=True):
        digest.update(sha)
        if kind == "cls":
            counts[f"cls_{split}"] += 1
            continue
        stem = f"{split}_{index:05d}"
        lists[split].append(stem)
        image_id = len(coco[split]["images"]) + 1
        coco[split]["images"].append(
            {"id": image_id, "file_name": f"{stem}.jpg", "width": cfg.det_width, "height": cfg.det_height}
        )
        _add_coco_objects(coco[split]["annotations"], image_id, objects)
        counts[f"det_{split}_images"] += 1
        counts[f"det_{split}_boxes"] += len(objects)
    for split in ("train", "val"):
        write_text(det / "ImageSets" / "Main" / f"{split}.txt", "\n".join(lists[split]) + "\n", durable=False)
        write_json(det / "annotations" / f"instances_{split}.json", coco[split], indent=None, durable=False)
    write_text(out / "classes.txt", "\n".join(CLASSES) + "\n", durable=False)
    os.sync()  # every file above on disk before the manifest says the dataset is complete
    manifest = {
        "config": config_to_dict(cfg),
        "classes": CLASSES,
        "counts": counts,
        "sha256_images": digest.hexdigest(),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def read_manifest(out: str | Path) -> dict | None:
    """The manifest of a complete dataset at ``out``, or None (none, or unreadable)."""
    path = Path(out) / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "config" in data else None
