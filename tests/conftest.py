"""Shared fixtures. Each block below belongs to one concern; add new ones as their own block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import CliResult
from mailservers import Dovecot, ImapAccount, SmtpServer, dovecot_server, smtp_server
from outbox_helpers import OWNER, SMTP_PASSWORD
from servers import fresh_postgres_database, postgres_server
from unghost.cli import main
from web_helpers import Site, make_site

# --- Databases: SQLite in tmp_path, PostgreSQL on a real server on loopback -------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin URL of the PostgreSQL server shared by the test session (one per xdist worker)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite database file, new for each test."""
    return f"sqlite:///{tmp_path}/unghost.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an empty database, new for each test: the test runs once on each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    # Looked up here, not requested, so SQLite-only runs never start the server.
    admin_url: str = request.getfixturevalue("pg_admin_url")
    with fresh_postgres_database(admin_url) as url:
        yield url


# --- The CLI, run in-process -------------------------------------------------------------------


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., CliResult]:
    """Run `unghost ARGS…` in this process with a private home; returns code, stdout, stderr."""
    monkeypatch.setenv("UNGHOST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UNGHOST_DB", raising=False)
    monkeypatch.delenv("UNGHOST_OWNER", raising=False)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# --- Mail servers: aiosmtpd and Dovecot on loopback (tests/mailservers.py) -----------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server for this test, which lets the outbox tests' owner log in."""
    with smtp_server({OWNER: SMTP_PASSWORD}) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot, shared by the test session (one per xdist worker)."""
    with dovecot_server() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh IMAP user with an empty mailbox and a `Sent` folder."""
    return dovecot.account()


# --- The web app on the sample workspace (tests/web_helpers.py) -------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The web app on the sample workspace in SQLite, with the cast of users."""
    return make_site(tmp_path / "home")


@pytest.fixture
def pg_site(tmp_path: Path, db_url: str) -> Iterator[Site]:
    """The same on each backend: SQLite and PostgreSQL."""
    site = make_site(tmp_path / "home", db_url)
    yield site
    site.engine.dispose()  # before the database is dropped, and not left to the collector
