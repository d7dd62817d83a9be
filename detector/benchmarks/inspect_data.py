"""``tools/benchmark.py inspect``: seconds for the dataset report and the settings --auto chooses
on a VOC-layout dataset of ``images`` photos (written here: XML with 640x480 sizes and a crowd of
objects of three sizes, one-pixel JPEG stand-ins, as the report reads no pixels): loading the
annotations, the numbers, the labels picture, and the choices."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..data.inspect import describe_splits
from ..data.load import load_dataset
from ..files import write_bytes, write_text
from ..pipeline.settings import resolve_settings

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"small": 40, "medium": 100, "large": 180}


def write_dataset(root: Path, images: int, seed: int = 0) -> Path:
    """``images`` annotation files (and empty JPEG stand-ins) listed in ``train``."""
    rng = np.random.default_rng(seed)
    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # a header; never decoded here
    ids = []
    for i in range(images):
        objs = []
        for _ in range(int(rng.integers(1, 25))):
            name = str(rng.choice(list(SIZES)))
            s = SIZES[name] * rng.uniform(0.8, 1.2)
            x, y = rng.uniform(1, 640 - s), rng.uniform(1, 480 - s)
            objs.append(f"<object><name>{name}</name><difficult>0</difficult><truncated>{int(rng.random() < 0.2)}"
                        f"</truncated><bndbox><xmin>{x:.0f}</xmin><ymin>{y:.0f}</ymin><xmax>{x + s:.0f}</xmax>"
                        f"<ymax>{y + s:.0f}</ymax></bndbox></object>")  # fmt: skip
        stem = f"im{i:05d}"
        xml = f"<annotation><filename>{stem}.jpg</filename><size><width>640</width><height>480</height></size>"
        write_text(root / "Annotations" / f"{stem}.xml", xml + "".join(objs) + "</annotation>", durable=False)
        write_bytes(root / "JPEGImages" / f"{stem}.jpg", jpeg, durable=False)
        ids.append(stem)
    write_text(root / "ImageSets" / "Main" / "train.txt", "\n".join(ids) + "\n")
    return root


def run(images: int = 1000, repeats: int = 3) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_dataset(Path(tmp) / "voc", images)
        for _ in range(repeats):
            t0 = time.perf_counter()
            ds = load_dataset(root, "train", check_images=True)
            t1 = time.perf_counter()
            report = describe_splits({"train": ds}, None, echo=False)
            t2 = time.perf_counter()
            describe_splits({"train": ds}, Path(tmp) / "out", echo=False)
            t3 = time.perf_counter()
            resolve_settings(ROOT / "configs" / "voc_custom.yaml", [], None, True, report["splits"]["train"])
            t4 = time.perf_counter()
            rows.append({"load": t1 - t0, "report": t2 - t1, "files": t3 - t2, "settings": t4 - t3, "total": t4 - t0})
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    return {"images": images, "objects": int(report["splits"]["train"]["objects"]), "repeats": repeats,
            "seconds": med}  # fmt: skip


def format_table(res: dict) -> str:
    s = res["seconds"]
    return "\n".join([
        f"dataset report and --auto settings: {res['images']} images, {res['objects']} objects "
        f"(median of {res['repeats']} runs, seconds)",
        "load annotations | numbers | dataset.json + labels picture | settings | total",
        "--- | --- | --- | --- | ---",
        f"{s['load']:.2f} | {s['report']:.2f} | {s['files']:.2f} | {s['settings']:.2f} | {s['total']:.2f}",
    ])  # fmt: skip
