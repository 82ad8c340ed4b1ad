"""Engines, sessions and migrations: SQLite by default, PostgreSQL for teams."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from unghost.errors import UnghostError
from unghost.settings import Settings


def make_engine(settings: Settings, *, migrate_now: bool = True) -> Engine:
    """An engine for the configured database, migrated to the newest schema."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves so
        # `BEGIN IMMEDIATE` and SAVEPOINTs behave (SQLAlchemy docs, "Serializable isolation").
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, **_JSON)
    if migrate_now:
        migrate(engine)
    return engine


# orjson reads and writes the JSON columns several times faster than the json module.
_JSON: dict[str, Any] = {
    "json_serializer": lambda value: orjson.dumps(value).decode(),
    "json_deserializer": orjson.loads,
}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: big imports and plans stay in memory
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "BEGIN")
    conn.exec_driver_sql(mode)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error.

    On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a transaction that
    reads and then writes would otherwise fail with "database is locked" when another
    process (a worker) wrote in between.
    """
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with Session(bind=conn, expire_on_commit=False) as session, session.begin():
            yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only unit of work: a consistent snapshot, rolled back at the end.

    Unlike `transaction`, it takes no write lock on SQLite (a deferred `BEGIN`), so any
    number of readers run beside one writer (WAL). Anything written in it is discarded.
    """
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="BEGIN")
        # Closing the session ends (rolls back) its transaction and detaches what it
        # loaded without expiring it, so results stay readable after the block.
        session = Session(bind=conn, expire_on_commit=False)
        try:
            yield session
        finally:
            session.expunge_all()
            session.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """The Alembic configuration of the packaged migrations."""
    location = resources.files("unghost.store") / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there already."""
    cfg = alembic_config(engine)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    try:
        command.upgrade(cfg, "head")
    except Exception as exc:  # a broken or foreign database
        raise UnghostError(f"cannot migrate the database: {exc}") from exc
