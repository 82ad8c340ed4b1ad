"""Real servers for the test suite, each started on a free loopback port in a temp directory.

They use the Debian packages that scripts/install-test-deps installs; nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_MISSING = "PostgreSQL is not installed: run scripts/install-test-deps (make test does)"
# Durability is pointless for a throwaway test cluster and costs most of the write time.
_POSTGRES_TEST_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)
_START_ATTEMPTS = 3


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin_dir() -> Path:
    """Return the `bin` directory of the newest installed PostgreSQL, or raise RuntimeError."""
    found = [path.parent for path in POSTGRES_ROOT.glob("*/bin/postgres")]
    versions = [path for path in found if path.parent.name.isdigit()]
    if not versions:
        raise RuntimeError(POSTGRES_MISSING)
    return max(versions, key=lambda path: int(path.parent.name))


def _run_as_postgres(args: list[str], cwd: Path) -> None:
    # initdb and postgres refuse to run as root; as anyone else they run as that user.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(
        prefix + args,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )


def _make_private_dir() -> Path:
    base = Path(tempfile.mkdtemp(prefix="unghost-pg-"))
    if os.geteuid() == 0:
        # mkdtemp makes it 0700 for root; /tmp itself is world-traversable, so owning
        # the directory is all the postgres user needs.
        shutil.chown(base, user="postgres", group="postgres")
    return base


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a throwaway PostgreSQL cluster on loopback and yield its admin SQLAlchemy URL."""
    bin_dir = postgres_bin_dir()
    base = _make_private_dir()
    data = base / "data"
    log = base / "log"
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        _run_as_postgres([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], cwd=base)
        port = _start_postgres(bin_dir, base, data, log)
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run_as_postgres(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], cwd=base
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _start_postgres(bin_dir: Path, base: Path, data: Path, log: Path) -> int:
    # The port is only known free until we release it, so another process may take it first.
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        options = f"-k {base} -p {port} {_POSTGRES_TEST_OPTIONS}"
        try:
            pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log)]
            _run_as_postgres([*pg_ctl, "-w", "start"], cwd=base)
        except subprocess.CalledProcessError as error:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            if "could not bind" in server_log or "Address already in use" in server_log:
                log.unlink()
                continue
            raise RuntimeError(
                f"PostgreSQL did not start: {error.stderr.strip()}\n{server_log}"
            ) from error
        return port
    raise RuntimeError(f"PostgreSQL found no free port in {_START_ATTEMPTS} attempts")


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create an empty, uniquely named database on the server and yield its URL; drop it after."""
    name = f"ug_{uuid.uuid4().hex}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()
