"""Bulk pure work over both cores: a forked process takes a share, the caller the rest.

Planning a big book is CPU work on data already in memory, so a child forked after the
loading reads it for free (copy on write) and sends back only small results. Forking is
safe only in a process with no other thread (a thread may hold a lock the child would
inherit held), so the worker, which watches mailboxes in threads, plans in one process.
A child that fails for any reason is not trusted: its share is done again here, where a
bug raises as usual.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_SHARE = 2000  # below this many items a share costs more to hand over than to do


def cores() -> int:
    """How many processes bulk work may use here."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    return count


def spread(
    work: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    then: Callable[[list[R]], None] | None = None,
    lead: float = 0.5,
    processes: int | None = None,
    min_share: int = MIN_SHARE,
) -> list[R]:
    """`work(items)`, done in shares over up to `processes` (default: every core) processes.

    `work` must be pure: a share's result is the same wherever it runs. The results come
    back in the order of `items`. `then`, if given, is called here with each share's
    results as they come: with the caller's own share (`lead` of the items) first, while
    the other processes still work.
    """
    n = min(processes or cores(), len(items) // max(min_share, 1))
    if n < 2:
        out = work(items)
        if then is not None:
            then(out)
        return out
    first = round(len(items) * lead) if n == 2 else -(-len(items) // n)
    size = -(-(len(items) - first) // (n - 1))
    shares = [items[first + i : first + i + size] for i in range(0, len(items) - first, size)]
    children = [_fork(work, share) for share in shares]
    try:
        out = work(items[:first])
        if then is not None:
            then(out)
    except BaseException:  # no process left behind when this share fails
        for pid, fd in children:
            os.kill(pid, signal.SIGKILL)
            _collect(pid, fd)
        raise
    for (pid, fd), share in zip(children, shares, strict=True):
        result: list[R] | None = _collect(pid, fd)
        if result is None:
            result = work(share)
        if then is not None:
            then(result)
        out.extend(result)
    return out


def _fork(work: Callable[[Sequence[T]], list[R]], share: Sequence[T]) -> tuple[int, int]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the share, send it back, and leave without any cleanup
        status = 1
        try:
            os.close(read)
            gc.disable()  # a short life: collecting would only copy the parent's pages
            data = pickle.dumps(work(share), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def _collect(pid: int, fd: int) -> list[R] | None:
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    result: list[R] = pickle.loads(data)
    return result


@contextmanager
def bulk() -> Iterator[None]:
    """No garbage collection while building many objects that all stay alive.

    Each collection of the oldest generation walks every object already built, so
    building a few million of them with collection on costs several times the work.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
