"""Files that a later step reads: written whole or not at all, read back leniently.

Writing: :func:`atomic_path` yields a temporary name in the destination's folder; when the
block ends the file is flushed to disk (``fsync``), renamed over the destination (``os.replace``,
atomic on POSIX) and the folder's entry synced too, so a kill or a power cut leaves either the old
file or the new one, never a torn or empty one. A write that fails (a full disk, ``ENOSPC``; a
read-only folder) removes its temporary file and is one :class:`~detector.errors.UserError` line
naming the destination. :func:`write_bytes`, :func:`write_text` and :func:`write_json` are the
common cases; :func:`write_json` writes strict JSON: a non-finite float (an undefined mAP)
becomes ``null``, which every JSON parser accepts (``NaN`` is not JSON).

Appending: :func:`append_line` adds one line to a JSON-lines file and syncs it;
:func:`read_json_lines` treats a torn last line (a kill mid-append) as absent.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import UserError


class WriteError(UserError):
    """An output that could not be written (full disk, no permission): names the file."""


def sync_folder(folder: Path) -> None:
    """Sync a folder's entries (renames in it) to disk, where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform or file system without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp")  # atomic_path's names: .<file>.<pid>.tmp[suffix]


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the temporary files :func:`atomic_path` left anywhere under ``folder`` when the
    process writing them was killed outright (SIGKILL runs no cleanup): those whose writer's pid
    is no running process. A live writer's are kept. Returns how many went."""
    gone = 0
    for p in Path(folder).rglob(".*.tmp*"):
        m = TEMPORARY.match(p.name)
        if m and p.is_file() and not _alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            gone += 1
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "", durable: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on a clean exit it is synced and renamed to
    ``path``. ``suffix`` ends the temporary name (libraries that add one, e.g. ``np.savez``'s
    ``.npz``). ``durable=False`` skips the syncs (many small files; the caller syncs once with
    ``os.sync()`` before writing what marks them complete). An ``OSError`` inside or while
    committing is a :class:`WriteError`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise WriteError(f"{path}: cannot write: {path.parent} is a file, not a folder") from None
    except OSError as e:
        raise WriteError(f"{path}: cannot write: {e.strerror or e}") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        sync_folder(path.parent)


def write_bytes(path: str | Path, data: bytes, durable: bool = True) -> Path:
    """``data`` to ``path``, atomically (see the module doc and :func:`atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, durable: bool = True) -> Path:
    return write_bytes(path, text.encode("utf-8"), durable)


def strict(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf) replaced by None, containers rebuilt."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON of ``obj`` (non-finite floats as ``null``)."""
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(path: str | Path, obj: Any, indent: int | None = 2, durable: bool = True) -> Path:
    """``obj`` as strict JSON to ``path``, atomically."""
    return write_text(path, json_text(obj, indent) + "\n", durable)


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` (no newline in it) and a newline to ``path``, synced to disk; a torn last
    line left by an earlier kill is first ended, so the new record starts on its own line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab+") as f:
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write(line.encode("utf-8") + b"\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise WriteError(f"{path}: cannot write: {e.strerror or e}") from None


def read_json_lines(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file ([] when missing); a line that does not parse (a torn
    record from a kill mid-append) is left out."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


__all__ = [
    "WriteError",
    "append_line",
    "atomic_path",
    "fsync_file",
    "json_text",
    "read_json_lines",
    "sync_folder",
    "strict",
    "write_bytes",
    "write_json",
    "write_text",
]
