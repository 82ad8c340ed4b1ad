"""The test servers themselves: they work, they isolate tests, and they go away."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

import servers
from servers import fresh_postgres_database, postgres_server


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_db_url_is_an_empty_database_that_answers_queries(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("select 1")).scalar_one() == 1
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_each_fresh_postgres_database_is_separate(pg_admin_url: str) -> None:
    with (
        fresh_postgres_database(pg_admin_url) as first,
        fresh_postgres_database(pg_admin_url) as second,
    ):
        assert first != second
        engine = create_engine(first)
        try:
            with engine.begin() as connection:
                connection.execute(text("create table deal (id integer primary key)"))
        finally:
            engine.dispose()

        assert _tables(first) == ["deal"]
        assert _tables(second) == []


@pytest.mark.postgres
def test_a_fresh_postgres_database_is_dropped_after_use(pg_admin_url: str) -> None:
    with fresh_postgres_database(pg_admin_url) as url:
        name = make_url(url).database
        # An open connection must not keep the database alive.
        engine = create_engine(url)
        connection = engine.connect()

    admin = create_engine(pg_admin_url)
    try:
        with admin.connect() as admin_connection:
            names = admin_connection.execute(text("select datname from pg_database")).scalars()
            assert name not in list(names)
    finally:
        admin.dispose()
        connection.invalidate()
        engine.dispose()


@pytest.mark.postgres
def test_the_postgres_server_stops_and_cleans_up_when_the_block_exits() -> None:
    with postgres_server() as url:
        port = make_url(url).port
        assert port is not None
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                data_dir = Path(connection.execute(text("show data_directory")).scalar_one())
        finally:
            engine.dispose()
        assert data_dir.is_dir()

    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    assert not data_dir.exists()


def test_postgres_server_says_how_to_install_postgresql_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(servers, "POSTGRES_ROOT", tmp_path)

    missing = r"PostgreSQL is not installed: run scripts/install-test-deps \(make test does\)"
    with pytest.raises(RuntimeError, match=missing), postgres_server():
        pass
