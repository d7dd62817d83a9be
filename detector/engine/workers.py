"""A parallel map that never hangs: spawned worker processes, a bounded wait on each task, a
retry when a worker dies or times out, and results yielded as they complete.

Why not ``multiprocessing.Pool``: its default start method on Linux is ``fork``, and forking a
process that already runs threads (torch's and OpenCV's pools) can leave the child waiting
forever on a lock some thread held at the fork. A ``Pool`` also waits forever on a task whose
worker hangs, and loses the task of a worker that dies. Here workers are started with
``spawn`` (a fresh interpreter: no inherited locks), each task has a deadline after which its
worker is killed and replaced, and a task whose worker died or timed out is retried
``retries`` times before it is reported as failed, so the caller can skip and name it.

``fn`` and the tasks must be picklable (``fn`` a module-level function). With ``workers <= 1``
the tasks run in this process, one after another (no deadline applies there).
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

LOADER_TIMEOUT = 600.0  # seconds a DataLoader waits for one batch from its worker processes


def loader_processes(workers: int) -> dict[str, Any]:
    """``DataLoader`` keyword arguments for ``workers`` loader processes, by the rules above:
    started with ``spawn`` (torch's default on Linux forks this threaded process) and each batch
    waited for at most ``LOADER_TIMEOUT`` seconds (a worker that dies is reported by torch at once).
    Nothing with ``workers`` 0: the loading runs in this process."""
    return {"multiprocessing_context": "spawn", "timeout": LOADER_TIMEOUT} if workers > 0 else {}


@dataclass
class Outcome:
    """One task's end: ``value`` is ``fn(task)``, or None when ``error`` says why it failed."""

    index: int  # position of the task in the input
    task: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1


def _worker_main(conn, fn: Callable, initializer: Callable | None, initargs: tuple) -> None:
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
        except Exception as e:  # noqa: BLE001 - reported to the parent as this task's failure
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
            conn.send((index, False, f"{type(e).__name__}: {e}{where}".splitlines()[0]))


class _Worker:
    def __init__(self, ctx, fn, initializer, initargs):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, initializer, initargs), daemon=True)
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
        if initializer is not None:
            initializer(*initargs)
        for i, t in enumerate(tasks):
            try:
                yield Outcome(i, t, fn(t))
            except Exception as e:  # noqa: BLE001 - the caller skips and names the task
                yield Outcome(i, t, error=f"{type(e).__name__}: {e}".splitlines()[0])
        return
    ctx = mp.get_context("spawn")
    todo, attempts = deque(range(len(tasks))), [0] * len(tasks)
    pool = [_Worker(ctx, fn, initializer, initargs) for _ in range(min(workers, len(tasks)))]
    left = len(tasks)

    def retry_or_fail(w: _Worker, why: str) -> Outcome | None:
        i = w.index
        pool[pool.index(w)] = _Worker(ctx, fn, initializer, initargs)
        w.kill()
        if attempts[i] <= retries:
            todo.appendleft(i)
            return None
        return Outcome(i, tasks[i], error=why, attempts=attempts[i])

    try:
        while left:
            for w in list(pool):
                if w.index is None and todo:
                    i = todo.popleft()
                    attempts[i] += 1
                    try:
                        w.give(i, tasks[i], timeout)
                    except (BrokenPipeError, OSError):  # died before its task (e.g. in the initializer)
                        w.index = i
                        out = retry_or_fail(w, f"worker process died (exit code {w.proc.exitcode})")
                        if out is not None:
                            left -= 1
                            yield out
            busy = [w for w in pool if w.index is not None]
            if not busy:  # a task was put back after a failed hand-over: hand it out again
                continue
            now = time.monotonic()
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                         timeout=max(0.0, min(w.deadline for w in busy) - now))  # fmt: skip
            for w in busy:
                out = None
                if w.conn in ready:
                    try:
                        index, ok, value = w.conn.recv()
                    except (EOFError, OSError):  # died mid-reply
                        out = retry_or_fail(w, f"worker process died (exit code {w.proc.exitcode})")
                    else:
                        w.index = None
                        out = Outcome(
                            index, tasks[index], value if ok else None, None if ok else value, attempts[index]
                        )
                elif w.proc.sentinel in ready:
                    w.proc.join(1)
                    out = retry_or_fail(w, f"worker process died (exit code {w.proc.exitcode})")
                elif time.monotonic() >= w.deadline:
                    out = retry_or_fail(w, f"timed out after {timeout:g} s")
                else:
                    continue
                if out is not None:
                    left -= 1
                    yield out
    finally:
        for w in pool:
            w.stop() if w.index is None else w.kill()
