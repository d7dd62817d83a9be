"""A parallel map that never hangs: spawned worker processes, a bounded wait on each task, a
retry when a worker dies or times out, and results yielded as they complete.

Why not ``multiprocessing.Pool``: its default start method on Linux is ``fork``, and forking a
process that already runs threads (torch's and OpenCV's pools) can leave the child waiting
forever on a lock some thread held at the fork. A ``Pool`` also waits forever on a task whose
worker hangs, and loses the task of a worker that dies. Here workers are started with
``spawn`` (a fresh interpreter: no inherited locks), each task has a deadline after which its
worker is killed and replaced, and a task whose worker died or timed out is retried
``retries`` times before it is reported as failed, so the caller can skip and name it. Workers
end with their parent (:func:`die_with_parent`), also when it is killed with SIGKILL, and leave
SIGINT to it.

``fn`` and the tasks must be picklable (``fn`` a module-level function). With ``workers <= 1``
the tasks run in this process, one after another (no deadline applies there).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

PR_SET_PDEATHSIG = 1  # prctl(2)
LOADER_TIMEOUT = 600.0  # seconds a DataLoader waits for one batch from its worker processes


def loader_processes(workers: int) -> dict[str, Any]:
    """``DataLoader`` keyword arguments for ``workers`` loader processes, by the rules above:
    started with ``spawn`` (torch's default on Linux forks this threaded process), each batch
    waited for at most ``LOADER_TIMEOUT`` seconds (a worker that dies is reported by torch at once),
    and each worker ending with its parent and leaving SIGINT to it (:func:`loader_worker_init`).
    Nothing with ``workers`` 0: the loading runs in this process."""
    if workers <= 0:
        return {}
    return {"multiprocessing_context": "spawn", "timeout": LOADER_TIMEOUT, "worker_init_fn": loader_worker_init}


def loader_worker_init(_: int) -> None:
    """A DataLoader worker's start: :func:`die_with_parent` (the process that started it)."""
    die_with_parent(os.getppid())


@dataclass
class Outcome:
    """One task's end: ``value`` is ``fn(task)``, or None when ``error`` says why it failed."""

    index: int  # position of the task in the input
    task: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1


def die_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` does: Linux's parent-death signal (SIGKILL),
    then a check that the parent had not already gone before it was set. Ctrl-C reaches the
    whole process group, so workers ignore SIGINT and leave the stopping to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _worker_main(conn, fn: Callable, initializer: Callable | None, initargs: tuple, parent: int) -> None:
    die_with_parent(parent)
    try:
        _serve(conn, fn, initializer, initargs)
    except (BrokenPipeError, EOFError, ConnectionResetError):  # the parent is gone: end quietly
        os._exit(0)


def _serve(conn, fn: Callable, initializer: Callable | None, initargs: tuple) -> None:
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        index, task = msg
        try:
            conn.send((index, True, fn(task)))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:  # noqa: BLE001 - reported to the parent as this task's failure
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
            conn.send((index, False, f"{type(e).__name__}: {e}{where}".splitlines()[0]))


class _Worker:
    def __init__(self, ctx, fn, initializer, initargs):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, initializer, initargs, os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None  # the task it runs
        self.deadline = 0.0

    def give(self, index: int, task: Any, timeout: float) -> None:
        self.index, self.deadline = index, time.monotonic() + timeout
        self.conn.send((index, task))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(5)
        self.kill()


def _inline(fn: Callable, tasks: list, initializer: Callable | None, initargs: tuple) -> Iterator[Outcome]:
    """The tasks one after another in this process (one worker, or one task)."""
    if initializer is not None:
        initializer(*initargs)
    for i, t in enumerate(tasks):
        try:
            yield Outcome(i, t, fn(t))
        except Exception as e:  # noqa: BLE001 - the caller skips and names the task
            yield Outcome(i, t, error=f"{type(e).__name__}: {e}".splitlines()[0])


class _TaskPool:
    """:func:`run_tasks`'s state: spawned workers, the tasks still to hand out, the attempts made."""

    def __init__(self, fn: Callable, tasks: list, workers: int, timeout: float, retries: int,
                 initializer: Callable | None, initargs: tuple):  # fmt: skip
        self.ctx = mp.get_context("spawn")
        self.fn, self.tasks, self.timeout, self.retries = fn, tasks, timeout, retries
        self.init = (initializer, initargs)
        self.todo, self.attempts = deque(range(len(tasks))), [0] * len(tasks)
        self.workers = [self._new() for _ in range(min(workers, len(tasks)))]

    def _new(self) -> _Worker:
        return _Worker(self.ctx, self.fn, *self.init)

    def _died(self, w: _Worker) -> Outcome | None:
        return self.retry_or_fail(w, f"worker process died (exit code {w.proc.exitcode})")

    def retry_or_fail(self, w: _Worker, why: str) -> Outcome | None:
        """Replace ``w``; put its task back while it has attempts left, else its failure."""
        i = w.index
        self.workers[self.workers.index(w)] = self._new()
        w.kill()
        if self.attempts[i] <= self.retries:
            self.todo.appendleft(i)
            return None
        return Outcome(i, self.tasks[i], error=why, attempts=self.attempts[i])

    def hand_out(self) -> list[Outcome]:
        """A task to each idle worker; the failures of workers that died before taking theirs."""
        outs = []
        for w in list(self.workers):
            if w.index is None and self.todo:
                i = self.todo.popleft()
                self.attempts[i] += 1
                try:
                    w.give(i, self.tasks[i], self.timeout)
                except (BrokenPipeError, OSError):  # died before its task (e.g. in the initializer)
                    w.index = i
                    outs.append(self._died(w))
        return [o for o in outs if o is not None]

    def busy(self) -> list[_Worker]:
        return [w for w in self.workers if w.index is not None]

    def collect(self) -> list[Outcome]:
        """Wait (until the earliest deadline at most) for replies, deaths and time-outs."""
        busy = self.busy()
        ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                     timeout=max(0.0, min(w.deadline for w in busy) - time.monotonic()))  # fmt: skip
        outs = [self._check(w, ready) for w in busy]
        return [o for o in outs if o is not None]

    def _check(self, w: _Worker, ready: list) -> Outcome | None:
        if w.conn in ready:
            try:
                index, ok, value = w.conn.recv()
            except (EOFError, OSError):  # died mid-reply
                return self._died(w)
            w.index = None
            return Outcome(index, self.tasks[index], value if ok else None, None if ok else value, self.attempts[index])
        if w.proc.sentinel in ready:
            w.proc.join(1)
            return self._died(w)
        if time.monotonic() >= w.deadline:
            return self.retry_or_fail(w, f"timed out after {self.timeout:g} s")
        return None

    def close(self) -> None:
        for w in self.workers:
            w.stop() if w.index is None else w.kill()


def run_tasks(
    fn: Callable[[Any], Any], tasks: Iterable[Any], workers: int, timeout: float = 600.0, retries: int = 1,
    initializer: Callable | None = None, initargs: tuple = (),
) -> Iterator[Outcome]:  # fmt: skip
    """Yield an :class:`Outcome` for each task, in completion order.

    A task fails (``error`` set, never raised) when ``fn`` raises, or when its worker dies or
    runs past ``timeout`` seconds on it ``retries + 1`` times; the worker is then replaced.
    """
    tasks = list(tasks)
    if workers <= 1 or len(tasks) <= 1:
        yield from _inline(fn, tasks, initializer, initargs)
        return
    pool = _TaskPool(fn, tasks, workers, timeout, retries, initializer, initargs)
    left = len(tasks)
    try:
        while left:
            done = pool.hand_out()
            if pool.busy():  # else a task was put back after a failed hand-over: hand it out again
                done += pool.collect()
            for out in done:
                left -= 1
                yield out
    finally:
        pool.close()
