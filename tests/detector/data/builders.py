"""Writers of small annotation files in the real formats, for loader and tool tests."""

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, w: int, h: int, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).convert(mode).save(path)
    return path


def voc_xml(filename: str, w: int | None, h: int | None, objects: list[tuple]) -> str:
    """objects: (name, xmin, ymin, xmax, ymax, difficult)."""
    size = f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>" if w else ""
    objs = "".join(
        f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
        f"<xmax>{c}</xmax><ymax>{e}</ymax></bndbox></object>"
        for n, a, b, c, e, d in objects
    )
    return f"<annotation><filename>{filename}</filename>{size}{objs}</annotation>"


def write_voc(root: Path, split: str, images: dict[str, tuple], with_images: bool = True) -> Path:
    """images: id -> (w, h, objects). Writes the VOC layout under root."""
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for img_id, (w, h, objs) in images.items():
        (root / "Annotations" / f"{img_id}.xml").write_text(voc_xml(f"{img_id}.jpg", w, h, objs))
        if with_images:
            write_image(root / "JPEGImages" / f"{img_id}.jpg", w or 64, h or 48)
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(images) + "\n")
    return root


def write_coco(path: Path, images: list[dict], anns: list[dict], cats: list[tuple[int, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(anns, 1):
        a.setdefault("id", i)
        a.setdefault("iscrowd", 0)
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
    path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": c, "name": n} for c, n in cats]})
    )
    return path


def flagged_xml(name: str, w: int, h: int, objects: list[tuple]) -> str:
    """objects: (class, xmin, ymin, xmax, ymax, difficult, truncated), 1-based inclusive."""
    objs = "".join(
        f"<object><name>{n}</name><difficult>{d}</difficult><truncated>{t}</truncated><bndbox><xmin>{a}</xmin>"
        f"<ymin>{b}</ymin><xmax>{c}</xmax><ymax>{e}</ymax></bndbox></object>"
        for n, a, b, c, e, d, t in objects
    )
    return f"<annotation><filename>{name}.jpg</filename><size><width>{w}</width><height>{h}</height></size>{objs}</annotation>"


def write_flagged_voc(root: Path) -> Path:
    """A VOC root with a ``train`` list of four images: objects of sizes sqrt(w*h) 10 (cat), 10
    (dog, 20x5), 40 (cat) and 100 (dog, difficult and truncated); one image empty; one zero-width
    box, dropped."""
    images = {
        "a": (100, 50, [("cat", 1, 1, 10, 10, 0, 0), ("dog", 1, 1, 20, 5, 0, 0)]),
        "b": (200, 100, [("cat", 11, 21, 50, 60, 0, 0), ("cat", 5, 5, 4, 9, 0, 0)]),
        "c": (100, 100, []),
        "d": (100, 100, [("dog", 1, 1, 100, 100, 1, 1)]),
    }
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for name, (w, h, objs) in images.items():
        (root / "Annotations" / f"{name}.xml").write_text(flagged_xml(name, w, h, objs))
        write_image(root / "JPEGImages" / f"{name}.jpg", w, h)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\nb\nc\nd\n")
    return root
