"""Users and API tokens: argon2 passwords, tokens shown once and stored hashed, via the CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from helpers import CliResult, small_workspace, snapshot
from unghost import cli as cli_module
from unghost import cli_users
from unghost.cli import app
from unghost.errors import BadInput
from unghost.services import users
from unghost.settings import Settings
from unghost.store import models as m
from unghost.store.db import make_engine, transaction

Cli = Callable[..., CliResult]

ANN = "ann@team.example"
BEN = "ben@team.example"
MAYA = "maya@lindqvist-consulting.example"  # the owner of tests/helpers.py's small workspace
GOOD = "correct horse battery staple"
OTHER = "another long passphrase"


@pytest.fixture(autouse=True)
def _user_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The account commands on the app (until cli.py registers them), and the fast hasher."""
    cli_users.register(app)
    monkeypatch.setenv("UNGHOST_FAST_HASH", "1")


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=db_url, home=tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def ug(cli: Cli, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """`unghost --db URL ARGS…` on this test's database; the CLI's engines closed after each."""
    made: list[Engine] = []

    def make(settings: Settings, **kwargs: Any) -> Engine:
        made.append(make_engine(settings, **kwargs))
        return made[-1]

    monkeypatch.setattr(cli_module, "make_engine", make)

    def run(*args: str) -> CliResult:
        try:
            return cli("--db", db_url, *args)
        finally:
            while made:
                made.pop().dispose()

    yield run


@pytest.fixture
def pw(tmp_path: Path) -> Callable[[str], str]:
    """Write a password file; returns its path."""
    count = 0

    def write(text: str) -> str:
        nonlocal count
        count += 1
        path = tmp_path / f"password-{count}.txt"
        path.write_text(text)
        return str(path)

    return write


FAST = users.password_hasher(Settings(database_url="sqlite://", home=Path("."), fast_hash=True))


def user(engine: Engine, email: str) -> m.User:
    with transaction(engine) as session:
        found = users.find_user(session, email)
        assert found is not None
        return found


def verify(engine: Engine, email: str, password: str) -> bool:
    with transaction(engine) as session:
        found = users.get_user(session, email)
        return users.verify_password(found, password, hasher=FAST)


def one_line_error(result: CliResult, code: int) -> str:
    assert result.code == code, (result.out, result.err)
    assert result.err.startswith("unghost: error: ")
    assert result.err.count("\n") == 1
    return result.err


# -- users ------------------------------------------------------------------------------


def test_a_user_added_with_a_password_file_signs_in_with_that_password_only(
    ug: Cli, engine: Engine, pw: Callable[[str], str]
) -> None:
    result = ug("user", "add", ANN, "--name", "Ann Example", "--password-file", pw(GOOD + "\n"))
    assert result.code == 0, result.err
    assert result.out == f"added {ANN} (member)\n"
    stored = user(engine, ANN)
    assert stored.name == "Ann Example" and not stored.is_admin
    assert stored.password_hash is not None and stored.password_hash.startswith("$argon2id$")
    assert GOOD not in stored.password_hash
    assert verify(engine, ANN, GOOD)
    assert not verify(engine, ANN, GOOD + "!")
    assert not verify(engine, ANN, "")


def test_only_the_first_line_of_the_password_file_is_the_password(
    ug: Cli, engine: Engine, pw: Callable[[str], str]
) -> None:
    assert ug("user", "add", ANN, "--password-file", pw(f"{GOOD}\r\nsecond line\n")).code == 0
    assert verify(engine, ANN, GOOD)
    assert not verify(engine, ANN, f"{GOOD}\nsecond line")


def test_without_a_password_file_the_password_is_asked_for_twice_without_echo(
    ug: Cli, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []

    def prompt(text: str, **kwargs: Any) -> str:
        asked.append({"text": text, **kwargs})
        return GOOD

    monkeypatch.setattr(cli_users.typer, "prompt", prompt)
    result = ug("user", "add", ANN, "--admin")
    assert result.code == 0, result.err
    assert asked == [{"text": f"Password for {ANN}", "hide_input": True,
                      "confirmation_prompt": True}]  # fmt: skip
    assert user(engine, ANN).is_admin
    assert verify(engine, ANN, GOOD)


def test_user_list_shows_every_user_and_whether_they_can_sign_in_but_no_hash(
    ug: Cli, pw: Callable[[str], str]
) -> None:
    assert ug("user", "add", BEN, "--admin", "--password-file", pw(GOOD)).code == 0
    assert ug("user", "add", ANN, "--name", "Ann", "--password-file", pw(OTHER)).code == 0
    listed = ug("user", "list", "--json")
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)["users"]
    assert [(r["email"], r["name"], r["admin"], r["password"]) for r in rows] == [
        (ANN, "Ann", False, True),
        (BEN, "", True, True),
    ]
    human = ug("user", "list")
    assert ANN in human.out and "admin" in human.out
    for output in (listed.out, human.out):
        assert "argon2" not in output and GOOD not in output and OTHER not in output


def test_passwd_replaces_the_password(ug: Cli, engine: Engine, pw: Callable[[str], str]) -> None:
    assert ug("user", "add", ANN, "--password-file", pw(GOOD)).code == 0
    result = ug("user", "passwd", ANN.upper(), "--password-file", pw(OTHER))
    assert result.code == 0, result.err
    assert result.out == f"changed the password of {ANN}\n"
    assert verify(engine, ANN, OTHER)
    assert not verify(engine, ANN, GOOD)


def test_passwd_for_nobody_is_a_one_line_error(ug: Cli, pw: Callable[[str], str]) -> None:
    err = one_line_error(ug("user", "passwd", ANN, "--password-file", pw(GOOD)), 2)
    assert f'no user "{ANN}"' in err


def test_a_short_password_is_a_one_line_error_with_exit_status_2_and_adds_nobody(
    ug: Cli, engine: Engine, pw: Callable[[str], str]
) -> None:
    err = one_line_error(ug("user", "add", ANN, "--password-file", pw("eleven char")), 2)
    assert "at least 12 characters" in err and "eleven char" not in err
    with transaction(engine) as session:
        assert users.find_user(session, ANN) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("\nsecond line is not read\n", "is empty"), (" " * 12, "only spaces")],
)
def test_an_empty_or_blank_password_file_is_refused(
    ug: Cli, pw: Callable[[str], str], content: str, message: str
) -> None:
    assert message in one_line_error(ug("user", "add", ANN, "--password-file", pw(content)), 2)


def test_an_unreadable_password_file_is_a_one_line_error(ug: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    err = one_line_error(ug("user", "add", ANN, "--password-file", str(missing)), 2)
    assert "--password-file: cannot read" in err


def test_adding_a_user_who_has_a_password_is_refused_and_keeps_the_old_password(
    ug: Cli, engine: Engine, pw: Callable[[str], str]
) -> None:
    assert ug("user", "add", ANN, "--password-file", pw(GOOD)).code == 0
    err = one_line_error(ug("user", "add", ANN.upper(), "--password-file", pw(OTHER)), 1)
    assert "already exists" in err and "unghost user passwd" in err
    assert verify(engine, ANN, GOOD)


def test_a_user_imported_without_a_password_is_given_one_by_user_add(
    ug: Cli, engine: Engine, pw: Callable[[str], str], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace.json"
    workspace.write_bytes(orjson.dumps(small_workspace()))
    assert ug("import", str(workspace)).code == 0
    imported = user(engine, MAYA)
    assert imported.password_hash is None
    result = ug("user", "add", MAYA, "--admin", "--password-file", pw(GOOD))
    assert result.code == 0, result.err
    assert result.out == f"set the password of {MAYA} (admin)\n"
    after = user(engine, MAYA)
    assert after.id == imported.id and after.name == "Maya Lindqvist" and after.is_admin
    assert verify(engine, MAYA, GOOD)
    with transaction(engine) as session:
        owners = set(session.scalars(select(m.Deal.owner_id)))
    assert owners == {imported.id}


def test_a_bad_email_is_a_one_line_error(ug: Cli, pw: Callable[[str], str]) -> None:
    err = one_line_error(ug("user", "add", "not-an-address", "--password-file", pw(GOOD)), 2)
    assert "not an email address" in err


def test_verifying_a_password_hashed_with_older_parameters_rehashes_it(engine: Engine) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    with transaction(engine) as session:
        users.add_user(session, ANN, password=GOOD, hasher=FAST)
    old = user(engine, ANN).password_hash
    with transaction(engine) as session:
        assert users.verify_password(users.get_user(session, ANN), GOOD, hasher=stronger)
    new = user(engine, ANN).password_hash
    assert new != old and new is not None and "m=16,t=2,p=1" in new
    with transaction(engine) as session:
        assert not users.verify_password(users.get_user(session, ANN), OTHER, hasher=stronger)
    assert user(engine, ANN).password_hash == new


def test_a_user_without_a_password_cannot_sign_in(engine: Engine) -> None:
    with transaction(engine) as session:
        users.add_user(session, ANN, password=GOOD, hasher=FAST)
        users.get_user(session, ANN).password_hash = None
        assert not users.verify_password(users.get_user(session, ANN), GOOD, hasher=FAST)


# -- tokens -----------------------------------------------------------------------------


def add(engine: Engine, *emails: str) -> None:
    with transaction(engine) as session:
        for email in emails:
            users.add_user(session, email, password=GOOD, hasher=FAST)


def owner_of(engine: Engine, token: str) -> str | None:
    with transaction(engine) as session:
        found = users.user_for_token(session, token)
        return found.email if found else None


def test_a_new_token_is_printed_once_and_only_its_hash_is_stored(ug: Cli, engine: Engine) -> None:
    add(engine, ANN)
    result = ug("token", "create", ANN, "--name", "laptop")
    assert result.code == 0, result.err
    token = result.out.removesuffix("\n")
    assert result.out == token + "\n" and token.startswith("ug_") and len(token) == 46
    assert token not in result.err and token[:11] in result.err
    with transaction(engine) as session:
        (row,) = session.scalars(select(m.ApiToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:11] and row.name == "laptop"
        assert row.created_at is not None and row.last_used_at is None
    assert token not in repr(snapshot(engine))
    listed = ug("token", "list", "--json")
    assert [t["prefix"] for t in json.loads(listed.out)["tokens"]] == [token[:11]]
    assert token not in listed.out
    second = ug("token", "create", ANN).out.strip()
    assert second != token


def test_a_token_finds_its_user_and_records_when_it_was_used(ug: Cli, engine: Engine) -> None:
    add(engine, ANN)
    token = ug("token", "create", ANN).out.strip()
    assert owner_of(engine, token) == ANN
    with transaction(engine) as session:
        assert session.scalars(select(m.ApiToken.last_used_at)).one() is not None


def test_a_wrong_token_finds_nobody(ug: Cli, engine: Engine) -> None:
    add(engine, ANN)
    token = ug("token", "create", ANN).out.strip()
    last = "A" if token[-1] != "A" else "B"
    forged = {
        "one character off": token[:-1] + last,
        "prefix only": token[:11],
        "too long": token + "x",
        "empty": "",
        "wrong prefix": token.replace("ug_", "xx_", 1),
    }
    assert {why: owner_of(engine, t) for why, t in forged.items()} == dict.fromkeys(forged)
    assert owner_of(engine, token) == ANN


def test_a_revoked_token_finds_nobody(ug: Cli, engine: Engine) -> None:
    add(engine, ANN)
    token = ug("token", "create", ANN).out.strip()
    kept = ug("token", "create", ANN).out.strip()
    result = ug("token", "revoke", token[:11])
    assert result.code == 0, result.err
    assert result.out == f"revoked {token[:11]}\n"
    assert owner_of(engine, token) is None
    assert owner_of(engine, kept) == ANN
    again = one_line_error(ug("token", "revoke", token[:11]), 2)
    assert "no live token" in again
    listed = json.loads(ug("token", "list", ANN, "--json").out)["tokens"]
    assert [t["prefix"] for t in listed] == [kept[:11]]


def test_revoking_something_that_is_not_a_prefix_is_a_one_line_error(ug: Cli) -> None:
    assert "not a token prefix" in one_line_error(ug("token", "revoke", "abc"), 2)


def test_a_token_for_nobody_is_refused(ug: Cli, engine: Engine) -> None:
    assert f'no user "{ANN}"' in one_line_error(ug("token", "create", ANN), 2)
    with transaction(engine) as session:
        assert session.scalars(select(m.ApiToken)).all() == []


def test_the_tokens_of_two_users_do_not_cross(ug: Cli, engine: Engine) -> None:
    add(engine, ANN, BEN)
    ann = ug("token", "create", ANN).out.strip()
    ben = ug("token", "create", BEN).out.strip()
    assert owner_of(engine, ann) == ANN
    assert owner_of(engine, ben) == BEN
    assert ug("token", "revoke", ann[:11]).code == 0
    assert owner_of(engine, ann) is None
    assert owner_of(engine, ben) == BEN
    listed = json.loads(ug("token", "list", BEN, "--json").out)["tokens"]
    assert [(t["prefix"], t["user"]) for t in listed] == [(ben[:11], BEN)]


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "fast"), [("1", True), ("0", False), ("", False)])
def test_unghost_fast_hash_is_read_strictly(raw: str, fast: bool, tmp_path: Path) -> None:
    env = {"UNGHOST_FAST_HASH": raw, "UNGHOST_HOME": str(tmp_path)}
    assert Settings.load(env).fast_hash is fast
    assert users.password_hasher(Settings.load({"UNGHOST_HOME": str(tmp_path)})).time_cost >= 2


@pytest.mark.parametrize("raw", ["yes", "true", "2"])
def test_unghost_fast_hash_refuses_anything_but_1_or_0(raw: str, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="UNGHOST_FAST_HASH: must be 1 or 0"):
        Settings.load({"UNGHOST_FAST_HASH": raw, "UNGHOST_HOME": str(tmp_path)})
