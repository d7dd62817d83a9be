"""Proposals are data: computed once, stored per image, read back by image id.

Layout: ``<dir>/meta.json`` (method and parameters) and one ``<dir>/boxes/<image id>.npz`` per
image with ``boxes`` (``[N, 4]`` float32 xyxy, original pixels, rank order), ``scores``
(``[N]`` float32; rank-derived for selective search), ``source`` (the image's file name, so
a cache shared by two datasets whose image ids collide is caught), ``source_sig`` (its size and a
hash of its first 64 KiB, so a file of the same name from another folder, or one edited since, is
caught too; a moved dataset still matches) and, for selective search,
``ss_seconds`` (the wall time of reading and segmenting the image in its worker) and, for
MultiBox, ``mb_seconds`` (its share of the network's batch, reading and resizing included): their
sum is what ``tools/eval_proposals.py`` reports as the method's cost. Files are written atomically and
synced (:func:`detector.files.atomic_path`), so an interrupted extraction resumes by skipping the
images whose file exists; an entry that cannot be read all the same (truncated, empty: a disk
that lost its last writes) counts as missing, so it is computed again, and :attr:`ProposalCache.
unreadable` names those seen. Processes (ranks) can write to the same cache at once because each
writes its own images. Image ids must stay under the cache's folder (no ``..``, not absolute).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..data.records import DatasetError, ImageRecord, stays_inside
from ..files import atomic_path, write_text

SIG_BYTES = 1 << 16  # the head of the file that source_sig hashes


def file_signature(source: str | Path) -> str:
    """``"<size>:<blake2b of the first 64 KiB>"`` of an existing file, else ``""``: which image
    file proposals were computed from, cheap to check on every read."""
    try:
        with open(source, "rb") as f:
            head = f.read(SIG_BYTES)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return ""
    return f"{size}:{hashlib.blake2b(head, digest_size=8).hexdigest()}"


class ProposalCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.unreadable: set[str] = set()  # entries found unreadable (treated as missing)

    def _file(self, image_id: int | str) -> Path:
        name = str(image_id)
        if not stays_inside(name):
            raise DatasetError(f"{self.root}: image id {name!r} would leave the cache folder")
        return self.root / "boxes" / f"{name}.npz"

    def _load(self, path: Path) -> dict[str, np.ndarray] | None:
        """The arrays of one entry, or None (noted in :attr:`unreadable`) when it is truncated,
        empty or otherwise not a readable ``.npz`` with ``boxes``."""
        try:
            with np.load(path) as z:
                out = {k: z[k] for k in z.files}
            if "boxes" not in out or "scores" not in out or out["boxes"].reshape(-1, 4).shape[0] != len(out["scores"]):
                raise ValueError("incomplete")
            return out
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
            self.unreadable.add(path.name)
            return None

    def write_meta(self, meta: dict) -> None:
        """Record the parameters; refuse to mix results of different parameters in one cache."""
        path = self.root / "meta.json"
        if path.is_file():
            old = self.meta()
            if old != meta:
                raise DatasetError(f"{path}: the cache was made with {old}, not {meta}; use another --out")
            return
        write_text(path, json.dumps(meta, indent=2, sort_keys=True))

    def meta(self) -> dict:
        path = self.root / "meta.json"
        if not path.is_file():
            raise DatasetError(f"{self.root}: not a proposal cache (no meta.json)")
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DatasetError(
                f"{path}: unreadable proposal-cache parameters; remove the file to start the cache again"
            ) from None

    def has(self, image_id: int | str, source: str | Path = "") -> bool:
        """Whether the image's proposals are stored and readable; with ``source``, those of another
        file name under the same id are a one-line error rather than a reason to skip (or
        overwrite) it."""
        path = self._file(image_id)
        if not path.is_file():
            return False
        z = self._load(path)
        if z is None:
            return False
        if Path(source).name:
            self._check_source(path, z, source)
        return True

    @staticmethod
    def _check_source(path: Path, z, source: str | Path) -> None:
        stored = str(z["source"]) if "source" in z else ""
        name = Path(source).name
        if stored and name and stored != name:
            raise DatasetError(
                f"{path}: proposals of {stored!r}, not of {name!r}: two datasets with colliding image ids "
                "share this cache; give each its own --proposals folder"
            )
        sig = str(z["source_sig"]) if "source_sig" in z else ""
        if sig and name:
            now = file_signature(source)
            if now and now != sig:
                raise DatasetError(
                    f"{path}: proposals of another {stored or name!r} (size and first bytes differ: a file of "
                    "that name from another folder, or one edited since); give it its own --proposals folder"
                )

    def put(
        self, image_id: int | str, boxes: np.ndarray, scores: np.ndarray | None = None, source: str | Path = "",
        ss_seconds: float | None = None, mb_seconds: float | None = None,
    ) -> None:  # fmt: skip
        """Store one image's proposals; ``source`` is its file (its name and :func:`file_signature`
        are kept), ``ss_seconds`` what its selective search took, ``mb_seconds`` its share of the
        MultiBox network's batch."""
        path = self._file(image_id)
        if scores is None:  # rank order: a score that falls with the rank
            scores = 1.0 - np.arange(len(boxes), dtype=np.float32) / max(len(boxes), 1)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        extra = {k: np.float64(v) for k, v in (("ss_seconds", ss_seconds), ("mb_seconds", mb_seconds)) if v is not None}
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(
                tmp, boxes=boxes, scores=np.asarray(scores, np.float32), source=np.array(Path(source).name),
                source_sig=np.array(file_signature(source)), **extra,
            )  # fmt: skip

    def get(self, image_id: int | str, source: str | Path = "") -> tuple[np.ndarray, np.ndarray]:
        """``(boxes [N, 4], scores [N])`` of one image. A missing image, or one whose proposals were
        computed for another file name than ``source``'s, is a one-line error."""
        path = self._file(image_id)
        z = self._load(path) if path.is_file() else None
        if z is None:
            why = "no" if not path.is_file() else "unreadable"
            raise DatasetError(
                f"{self.root}: {why} proposals for image {image_id!r} (run tools/proposals.py on its split)"
            )
        self._check_source(path, z, source)
        return z["boxes"], z["scores"]

    def find(self, image_id: int | str, source: str | Path = "") -> np.ndarray | None:
        """``[N, 4]`` boxes of one image in one read, or None when the cache lacks it (say, it was
        unreadable when the cache was filled); another file's proposals under the id are a
        one-line error, as in :meth:`get`."""
        found = self.find_timed(image_id, source)
        return None if found is None else found[0]

    def find_timed(self, image_id: int | str, source: str | Path = "") -> tuple[np.ndarray, float | None] | None:
        """:meth:`find` with the seconds the image's proposals took when they were computed: its
        selective search plus its share of the MultiBox network's batch, whichever were stored
        (None where neither was: a cache written before they were recorded)."""
        path = self._file(image_id)
        z = self._load(path) if path.is_file() else None
        if z is None:
            return None
        self._check_source(path, z, source)
        parts = [float(z[k]) for k in ("ss_seconds", "mb_seconds") if k in z]
        return z["boxes"], (sum(parts) if parts else None)

    def boxes_for(self, record: ImageRecord) -> np.ndarray | None:
        """:meth:`find` for a dataset record, checked against its file name."""
        return self.find(record.image_id, record.file)
