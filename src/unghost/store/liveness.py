"""Which workers are alive: a row a dead worker left `sending` must be looked into.

Each worker holds a lock for as long as it lives and marks the rows it claims with the
lock's id. Another worker asks `alive(id)`: if it can take that lock, the owner died
(the operating system or the database released the lock with the process), so the row
it left mid-send is `unknown`. No timeouts are involved, so a slow send is never
mistaken for a crash.

- PostgreSQL: a session-level advisory lock, on a connection kept open by the worker.
- SQLite (one machine): an exclusive `flock` on a file in `<database>.workers/`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url

# The first half of unghost's advisory lock keys on PostgreSQL ("ung" in ASCII).
PG_LOCK_CLASS = 0x756E67
_in_process: set[str] = set()


class WorkerLock(Protocol):
    """This worker's identity and a way to ask about others'."""

    id: str

    def alive(self, other: str | None) -> bool:
        """Whether the worker that wrote `other` still runs (None: nobody claimed)."""
        ...


@contextmanager
def worker_lock(engine: Engine) -> Iterator[WorkerLock]:
    """Hold this process's worker lock for the duration of the block."""
    url = make_url(engine.url)
    if url.get_backend_name() == "postgresql":
        with _PgLock.hold(engine) as pg_lock:
            yield pg_lock
        return
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        with _ProcessLock.hold() as local:
            yield local
        return
    folder = Path(database).expanduser().with_name(Path(database).name + ".workers")
    with _FileLock.hold(folder) as file_lock:
        yield file_lock


class _PgLock:
    def __init__(self, conn: Connection, key: int) -> None:
        self.conn = conn
        self.key = key
        self.id = f"pg:{key}"

    @classmethod
    @contextmanager
    def hold(cls, engine: Engine) -> Iterator[_PgLock]:
        with engine.connect() as conn:
            while True:
                key = secrets.randbits(31)
                got = conn.scalar(select(func.pg_try_advisory_lock(PG_LOCK_CLASS, key)))
                conn.commit()
                if got:
                    break
            try:
                yield cls(conn, key)
            finally:
                conn.scalar(select(func.pg_advisory_unlock(PG_LOCK_CLASS, key)))
                conn.commit()

    def alive(self, other: str | None) -> bool:
        if other is None or other == self.id:
            return other is not None
        if not other.startswith("pg:"):
            return False
        key = int(other[3:])
        got = self.conn.scalar(select(func.pg_try_advisory_lock(PG_LOCK_CLASS, key)))
        if got:
            self.conn.scalar(select(func.pg_advisory_unlock(PG_LOCK_CLASS, key)))
        self.conn.commit()
        return not got


class _FileLock:
    def __init__(self, folder: Path, name: str, handle: IO[bytes]) -> None:
        self.folder = folder
        self.id = name
        self.handle = handle

    @classmethod
    @contextmanager
    def hold(cls, folder: Path) -> Iterator[_FileLock]:
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        path = folder / f"{name}.lock"
        handle = open(path, "wb")  # noqa: SIM115 - held for the lifetime of the worker
        try:
            if not _try_lock(handle):
                raise RuntimeError(f"cannot lock the new file {path}")
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
            yield cls(folder, name, handle)
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            handle.close()

    def alive(self, other: str | None) -> bool:
        if other is None or other == self.id:
            return other is not None
        if not other.isalnum():
            return False
        path = self.folder / f"{other}.lock"
        try:
            handle = open(path, "rb+")  # noqa: SIM115
        except FileNotFoundError:
            return False
        try:
            if not _try_lock(handle):
                return True
            with contextlib.suppress(OSError):
                path.unlink()  # the dead worker's file; we hold its lock, so nobody races us
            return False
        finally:
            handle.close()


class _ProcessLock:
    def __init__(self, name: str) -> None:
        self.id = name

    @classmethod
    @contextmanager
    def hold(cls) -> Iterator[_ProcessLock]:
        name = uuid.uuid4().hex
        _in_process.add(name)
        try:
            yield cls(name)
        finally:
            _in_process.discard(name)

    def alive(self, other: str | None) -> bool:
        return other is not None and other in _in_process


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
