"""Importing and exporting the workspace JSON: exact, idempotent, all or nothing."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from helpers import CliResult, small_workspace, snapshot, workspace_differences
from unghost.errors import BadInput
from unghost.services.workspace import export_workspace, import_document, import_file
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine, session_factory

Cli = Callable[..., CliResult]
E164 = {
    "owner.phone": "+16175550142",
    "contacts[0].phone": "+13125550199",
}


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def engine_for(url: str) -> Any:
    return make_engine(Settings(database_url=url, home=Path("/nonexistent")))


def test_import_then_export_gives_back_every_field(db_url: str) -> None:
    engine = engine_for(db_url)
    doc = small_workspace()
    import_document(engine, doc)
    with session_factory(engine)() as session:
        exported = export_workspace(session)
    assert workspace_differences(doc, exported, normalise=E164) == []
    engine.dispose()


def test_importing_the_same_file_twice_changes_nothing(db_url: str, tmp_path: Path) -> None:
    engine = engine_for(db_url)
    path = write(tmp_path / "w.json", small_workspace())
    first = import_file(engine, path)
    before = snapshot(engine)
    second = import_file(engine, path)
    assert first.created["touches"] == 2 and first.created["deals"] == 1
    assert not second.changed
    assert second.unchanged["touches"] == 2 and second.unchanged["contacts"] == 3
    assert snapshot(engine) == before
    engine.dispose()


def test_a_changed_field_updates_the_record_and_nothing_else(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    doc = small_workspace()
    import_document(engine, doc)
    doc["deals"][0]["urgency"] = "normal"
    doc["contacts"][1]["title"] = "Executive assistant"
    result = import_document(engine, doc)
    assert result.updated["deals"] == 1 and result.updated["contacts"] == 1
    assert sum(result.created.values()) == 0
    with session_factory(engine)() as session:
        exported = export_workspace(session)
    assert exported["deals"][0]["urgency"] == "normal"
    assert exported["contacts"][1]["title"] == "Executive assistant"


def test_dry_run_reports_what_would_change_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "w.json", small_workspace())
    db = f"sqlite:///{tmp_path}/dry.db"
    cli("--db", db, "contacts")
    engine = engine_for(db)
    before = snapshot(engine)
    result = cli("--db", db, "import", str(path), "--dry-run", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dry_run"] is True
    assert report["kinds"]["touches"]["created"] == 2
    assert snapshot(engine) == before


def test_phone_numbers_are_stored_in_e164_using_the_owners_country(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    import_document(engine, small_workspace())
    with session_factory(engine)() as session:
        phones = set(session.scalars(select(m.Contact.phone).where(m.Contact.phone.is_not(None))))
    assert phones == {"+13125550199"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["deals"][0].update(contact="gorge"),
            'w.json: deals[0].contact: no contact "gorge"',
        ),
        (
            lambda d: d["contacts"][0].update(timezone="America/Chicgo"),
            'w.json: contacts[0].timezone: unknown time zone "America/Chicgo"',
        ),
        (
            lambda d: d["contacts"].append({"id": "lisa", "name": "Lisa Again"}),
            'w.json: contacts[3].id: duplicate id "lisa" (first at contacts[1])',
        ),
        (
            lambda d: d["touches"].append(
                {
                    "deal": "nope",
                    "at": "2026-11-01T10:00:00Z",
                    "channel": "email",
                    "direction": "out",
                }
            ),
            'w.json: touches[2].deal: no deal "nope"',
        ),
        (
            lambda d: d["contacts"][1].update(email="lisa@"),
            "w.json: contacts[1].email: not an email address",
        ),
        (
            lambda d: d["touches"][0].update(at="yesterday"),
            "w.json: touches[0].at: must be an ISO 8601 time",
        ),
        (
            lambda d: d["promises"][0].update(by="2026-02-30"),
            "w.json: promises[0].by: not a date",
        ),
        (
            lambda d: d["touches"][1].update(channel="pigeon"),
            "w.json: touches[1].channel: must be one of email",
        ),
        (
            lambda d: d["deals"][0].update(stage="maybe"),
            "w.json: deals[0].stage: must be one of open, won, lost",
        ),
        (
            lambda d: d["contacts"][2].update(nickname="Zo"),
            "w.json: contacts[2].nickname: unknown field",
        ),
        (lambda d: d.update(version=2), "w.json: version: unsupported version 2"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_leaves_the_database_as_it_was(
    cli: Cli, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    db = f"sqlite:///{tmp_path}/bad.db"
    good = small_workspace()
    good["contacts"].append({"id": "extra", "name": "Somebody Else"})
    assert cli("--db", db, "import", str(write(tmp_path / "good.json", good))).code == 0
    engine = engine_for(db)
    before = snapshot(engine)
    doc = small_workspace()
    doc["deals"][0]["title"] = "A new title that must not be written"
    change(doc)
    path = write(tmp_path / "w.json", doc)
    result = cli("--db", db, "import", str(path))
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("unghost: error: " + str(tmp_path / message.split(":")[0]))
    assert message.split(": ", 1)[1] in lines[0]
    assert snapshot(engine) == before


def test_malformed_json_names_the_line_and_column(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{\n  "format": "unghost-workspace",\n  "version": 1,\n  "contacts": [}\n')
    result = cli("--db", f"sqlite:///{tmp_path}/x.db", "import", str(path))
    assert result.code == 2
    assert result.err.startswith(f"unghost: error: {path}: line 4 column ")
    assert "not JSON" in result.err and len(result.err.splitlines()) == 1


def test_fifty_megabytes_of_garbage_is_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/g.db"
    assert (
        cli("--db", db, "import", str(write(tmp_path / "good.json", small_workspace()))).code == 0
    )
    engine = engine_for(db)
    before = snapshot(engine)
    for name in ("garbage.json", "garbage.bin"):
        path = tmp_path / name
        path.write_bytes(os.urandom(50 * 1024 * 1024))
        result = cli("--db", db, "import", str(path))
        assert result.code == 2, result.err
        assert len(result.err.splitlines()) == 1
        assert result.err.startswith(f"unghost: error: {path}: ")
    assert snapshot(engine) == before


def test_a_missing_file_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("--db", f"sqlite:///{tmp_path}/x.db", "import", str(tmp_path / "none.json"))
    assert result.code == 2
    assert result.err == f"unghost: error: {tmp_path / 'none.json'}: no such file\n"


def test_the_workspace_owner_is_created_without_a_password(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    import_document(engine, small_workspace())
    with session_factory(engine)() as session:
        users = list(session.scalars(select(m.User)))
        assert [(u.email, u.password_hash) for u in users] == [
            ("maya@lindqvist-consulting.example", None)
        ]
        assert session.scalar(select(func.count()).select_from(m.Contact)) == 3


def test_an_owner_cannot_import_into_a_different_owners_name(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    with pytest.raises(BadInput, match=re.escape("belongs to maya@lindqvist-consulting.example")):
        import_document(engine, small_workspace(), owner_email="someone@else.example")


def test_a_field_left_out_of_a_later_import_keeps_its_stored_value(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    import_document(engine, small_workspace())
    partial = small_workspace()
    partial["contacts"] = [{"id": "george", "name": "George Abara", "title": "CEO"}]
    partial["deals"] = [{"id": "acme", "contact": "george", "title": "Close the books faster"}]
    for kind in ("touches", "meetings", "promises", "content"):
        partial[kind] = []
    result = import_document(engine, partial)
    assert result.updated["contacts"] == 1 and result.unchanged["deals"] == 1
    with session_factory(engine)() as session:
        exported = export_workspace(session)
    george = exported["contacts"][0]
    assert george["title"] == "CEO"
    assert george["phone"] == "+13125550199" and george["timezone"] == "America/Chicago"
    assert george["assistant"] == "lisa"
    assert exported["deals"][0]["proposal"]["amount"] == 24000
    assert exported["deals"][0]["referrer"] == "diane"
