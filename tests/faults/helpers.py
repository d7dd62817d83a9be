"""Helpers of the fault tests: processes seen through ``/proc`` (Linux), and a dataset whose
items raise a user error (importable by spawned DataLoader workers)."""

import os
import time
from pathlib import Path

from torch.utils.data import Dataset

from detector.data.records import DatasetError


class RaisingDataset(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        raise DatasetError("bad.xml: malformed XML: not well-formed")


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, parent pid)`` of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (recursively)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents[int(entry)] = st[1]
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, counts as ended)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """The ``pids`` still alive after waiting up to ``timeout`` seconds for them to end."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]
