"""Migrations: an empty database migrated to head has exactly the models' schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from unghost.settings import Settings
from unghost.store.db import alembic_config, make_engine
from unghost.store.models import Base


def test_migrating_an_empty_database_gives_the_models_schema(db_url: str) -> None:
    engine = make_engine(Settings(database_url=db_url, home=Path("/nonexistent")))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert context.get_current_revision() == head
    assert differences == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    engine.dispose()


def test_a_second_start_does_not_migrate_again(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, home=Path("/nonexistent"))
    make_engine(settings).dispose()
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
    engine.dispose()


def test_migration_files_are_append_only_and_named() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    assert [r.revision for r in reversed(revisions)] == [
        f"{i + 1:04d}" for i in range(len(revisions))
    ]
    for r in revisions:
        assert r.doc and r.doc.strip(), f"migration {r.revision} has no name"
