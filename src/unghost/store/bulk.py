"""Fast many-row inserts for imports: one prepared statement, rows as tuples.

The ORM's per-row bookkeeping costs more than the database itself at millions of
rows, so imports hand tuples straight to the driver's executemany. Times are
converted here the way `UTCDateTime` would store them on each backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import FromClause, Table, func, select
from sqlalchemy.orm import Session

from unghost.store.models import UTCDateTime

# Fewer incoming rows than this are inserted with the indexes in place.
REBUILD_MIN = 50_000


def insert_rows(
    session: Session,
    table: FromClause,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    naive_utc: bool = False,
    converted: bool = False,
) -> None:
    """INSERT every row (values in `columns` order) in one executemany.

    With `naive_utc`, time values are already naive UTC; with `converted`, every value
    is already what the driver takes (the import's hot path builds them so).
    """
    if not rows:
        return
    assert isinstance(table, Table)
    columns, rows = _with_defaults(table, columns, rows)
    conn = session.connection()
    dialect = conn.dialect
    # Each column's own bind processing (JSON, Decimal…), except aware times, which
    # are converted here: the TypeDecorator chain costs more than the insert itself.
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns if not converted else ()):
        col_type = table.c[name].type
        if isinstance(col_type, UTCDateTime):
            if dialect.name == "sqlite":
                procs.append((i, _sqlite_naive_time if naive_utc else _sqlite_time))
            elif not naive_utc:
                procs.append((i, _naive_utc))
            continue
        proc = col_type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            procs.append((i, proc))
    if procs:
        fixed: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for i, fn in procs:
                if values[i] is not None:
                    values[i] = fn(values[i])
            fixed.append(values)
        rows = fixed
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join(mark for _ in columns)})"
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    insert = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES "
    rows = rows if converted else [tuple(r) for r in rows]
    # SQLite: many rows to a statement spare a statement step per row (a tenth to a
    # quarter of the insert); 999 values is the oldest SQLite's limit on parameters.
    per = min(100, 999 // len(columns)) if dialect.name == "sqlite" else 1
    whole = len(rows) - len(rows) % per if per > 1 else 0
    if whole:
        conn.exec_driver_sql(
            insert + ", ".join(one for _ in range(per)),
            [tuple(chain.from_iterable(rows[s : s + per])) for s in range(0, whole, per)],
        )
    if whole < len(rows):
        conn.exec_driver_sql(insert + one, rows[whole:])


@contextmanager
def indexes_built_after(session: Session, table: FromClause, incoming: int) -> Iterator[None]:
    """On SQLite, when more rows are coming than `table` holds, build its indexes at the end.

    Sorting the rows once is cheaper than keeping each index up to date row by row. The
    indexes are dropped and made again from their own SQL, inside the caller's
    transaction, so an error (which skips the rebuild) rolls the drop back with the rest.
    PostgreSQL is left alone: its DROP INDEX would lock readers out for the whole import.
    """
    assert isinstance(table, Table)
    conn = session.connection()
    indexes: list[tuple[str, str]] = []
    if conn.dialect.name == "sqlite" and incoming >= REBUILD_MIN:
        held = select(func.count()).select_from(
            select(1).select_from(table).limit(incoming).subquery()
        )
        if (conn.scalar(held) or 0) < incoming:
            indexes = [
                (name, sql)
                for name, sql in conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master"
                    " WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
                    (table.name,),
                )
            ]
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    yield
    for _, sql in indexes:
        conn.exec_driver_sql(sql)


def _with_defaults(
    table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
    """Add the Python-side defaults (default=False, default=list) the ORM would have filled."""
    extra: list[tuple[str, Any]] = []
    constant = True
    for col in table.c:
        if col.name in columns or col.default is None or col.primary_key:
            continue
        default: Any = col.default
        if default.is_scalar:
            extra.append((col.name, lambda v=default.arg: v))
        elif default.is_callable:
            extra.append((col.name, lambda fn=default.arg: fn(None)))
            constant = False
    if not extra:
        return columns, rows
    names = [*columns, *(name for name, _ in extra)]
    if constant:  # the same values for every row: made once
        tail = tuple(make() for _, make in extra)
        return names, [(*row, *tail) for row in rows]
    return names, [(*row, *(make() for _, make in extra)) for row in rows]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_naive_time(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def _sqlite_time(value: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DateTime writes, so comparisons in SQL stay right.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
