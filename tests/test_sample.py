"""The sample workspace: it round-trips, it is idempotent, and `unghost demo` shows it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from helpers import CliResult, workspace_differences
from unghost.services.demo import sample_document, shifted

Cli = Callable[..., CliResult]
SAMPLE = Path(str(resources.files("unghost.sample") / "workspace.json"))


def test_import_then_export_round_trips_the_sample_field_by_field(cli: Cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    assert cli("--db", db, "import", str(SAMPLE)).code == 0
    result = cli("--db", db, "export", "--json")
    assert result.code == 0, result.err
    exported = json.loads(result.out)
    given = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert workspace_differences(given, exported) == []


def test_importing_the_sample_twice_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    assert cli("--db", db, "import", str(SAMPLE)).code == 0
    again = cli("--db", db, "import", str(SAMPLE), "--json")
    kinds = json.loads(again.out)["kinds"]
    assert all(k["created"] == 0 and k["updated"] == 0 for k in kinds.values()), kinds
    assert kinds["touches"]["unchanged"] == len(sample_document()["touches"])


def test_an_exported_workspace_imports_into_a_new_database_identically(
    cli: Cli, tmp_path: Path
) -> None:
    first, second = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    cli("--db", first, "import", str(SAMPLE))
    exported = tmp_path / "export.json"
    exported.write_text(cli("--db", first, "export").out)
    assert cli("--db", second, "import", str(exported)).code == 0
    assert cli("--db", second, "export").out == exported.read_text()


def test_demo_loads_the_sample_and_shows_todays_agenda(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo")
    assert result.code == 0, result.err
    doc = sample_document()
    assert f"({len(doc['deals'])} deals" in result.out
    assert "Today" in result.out and "→" in result.out and "why:" in result.out
    ids = {d["id"] for d in doc["deals"]}
    assert any(f"{i} (" in result.out for i in ids)
    assert (tmp_path / "home" / "unghost.db").exists()


def test_running_demo_twice_keeps_one_copy_of_the_sample(cli: Cli) -> None:
    cli("demo")
    cli("demo")
    listed = json.loads(cli("deals", "--json").out)["deals"]
    assert len(listed) == len(sample_document()["deals"])


def test_the_demo_moves_the_sample_by_whole_weeks_to_the_current_week() -> None:
    doc = sample_document()
    moved = shifted(doc, date(2027, 3, 10))
    anchor = datetime.fromisoformat(moved["anchor"])
    assert anchor.date().isoformat() == "2027-03-08"
    assert anchor.weekday() == 0
