"""`unghost mailbox add|test|list`, `outbox`, `worker` through the CLI, and the secret key.

Passwords come from files or prompts, are stored sealed under a key kept outside the
database, and never appear in any output.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, select

from helpers import CliResult
from mailservers import ImapAccount, SmtpServer
from outbox_helpers import AS_OF, OWNER, SMTP_PASSWORD, TEST_KEY, silent_workspace
from unghost.errors import BadInput, UnghostError
from unghost.services.mailboxes import header_value, host
from unghost.services.mailmessage import one_line
from unghost.services.secretkey import SecretKey, load_key
from unghost.services.unsubscribe import make_token, read_token
from unghost.settings import Settings
from unghost.store import models as m

Cli = Callable[..., CliResult]


@pytest.fixture
def db(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("UNGHOST_SECRET_KEY", raising=False)
    monkeypatch.delenv("UNGHOST_SECRET_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path}/cli.db"
    doc = tmp_path / "workspace.json"
    doc.write_bytes(orjson.dumps(silent_workspace(2)))
    assert cli("--db", url, "import", str(doc)).code == 0
    return url


def add_args(smtp: SmtpServer, account: ImapAccount, password_file: Path) -> list[str]:
    imap_password = password_file.with_name("imap-password")
    imap_password.write_text(account.password + "\n")
    return [
        "mailbox",
        "add",
        OWNER,
        "--smtp-host",
        smtp.host,
        "--smtp-port",
        str(smtp.port),
        "--smtp-tls",
        "none",
        "--imap-host",
        account.host,
        "--imap-port",
        str(account.port),
        "--imap-tls",
        "none",
        "--imap-user",
        account.user,
        "--password-file",
        str(password_file),
        "--imap-password-file",
        str(imap_password),
        "--no-copy-to-sent",
    ]


def test_a_mailbox_is_added_tested_and_listed_without_ever_showing_its_password(
    cli: Cli, db: str, tmp_path: Path, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    secret = tmp_path / "password"
    secret.write_text(SMTP_PASSWORD + "\n")
    outputs = []

    added = cli("--db", db, *add_args(smtp, imap_account, secret))
    outputs.append(added)
    assert added.code == 0, added.err
    assert f"mailbox {OWNER} added" in added.out

    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    engine = create_engine(db)
    with engine.connect() as conn:
        box = conn.execute(select(m.Mailbox)).one()
    engine.dispose()
    assert SMTP_PASSWORD not in (box.smtp_password or "")
    key = SecretKey(key_file.read_bytes().strip())
    assert key.unseal(box.smtp_password) == SMTP_PASSWORD
    assert key.unseal(box.imap_password) == imap_account.password
    assert SMTP_PASSWORD.encode() not in Path(db.removeprefix("sqlite:///")).read_bytes()

    listed = cli("--db", db, "mailbox", "list", "--json")
    outputs.append(listed)
    [shown] = json.loads(listed.out)["mailboxes"]
    assert shown["smtp"]["password"] == "••••" and shown["imap"]["password"] == "••••"
    assert (shown["smtp"]["host"], shown["smtp"]["port"]) == (smtp.host, smtp.port)
    outputs.append(cli("--db", db, "mailbox", "list"))
    assert "••••" in outputs[-1].out

    tested = cli("--db", db, "mailbox", "test", OWNER)
    outputs.append(tested)
    assert tested.code == 0, tested.out + tested.err
    lines = tested.out.splitlines()
    assert lines[0].startswith(f"ok   SMTP {smtp.host}:{smtp.port} (none): connected")
    assert lines[1].startswith(f"ok   IMAP {imap_account.host}:{imap_account.port} (none)")
    assert "folder 'Sent' is there" in lines[1]

    smtp.sink.users[OWNER] = "changed"
    failed = cli("--db", db, "mailbox", "test", OWNER)
    outputs.append(failed)
    assert failed.code == 1
    assert failed.out.startswith("FAIL SMTP") and "535" in failed.out
    assert failed.err == f"unghost: error: mailbox {OWNER}: SMTP did not work\n"

    for result in outputs:
        assert SMTP_PASSWORD not in result.out + result.err
        assert imap_account.password not in result.out + result.err


def test_the_worker_command_sends_and_the_outbox_lists_it(
    cli: Cli, db: str, tmp_path: Path, smtp: SmtpServer, imap_account: ImapAccount
) -> None:
    secret = tmp_path / "password"
    secret.write_text(SMTP_PASSWORD)
    assert cli("--db", db, *add_args(smtp, imap_account, secret)).code == 0

    ran = cli("--db", db, "worker", "--once", "--as-of", AS_OF.isoformat())

    assert ran.code == 0, ran.err
    assert ran.out.strip() == "sent 2 messages"
    assert smtp.sink.count() == 2
    listed = json.loads(cli("--db", db, "outbox", "list", "--json").out)["outbox"]
    assert sorted(r["state"] for r in listed) == ["sent", "sent"]
    assert cli("--db", db, "worker", "--once", "--as-of", AS_OF.isoformat()).out.strip() == (
        "sent 0 messages"
    )


def test_without_a_mailbox_the_worker_writes_eml_files(cli: Cli, db: str, tmp_path: Path) -> None:
    ran = cli("--db", db, "worker", "--once", "--as-of", AS_OF.isoformat())
    assert ran.code == 0, ran.err
    assert len(list((tmp_path / "home" / "outbox").glob("*.eml"))) == 2


def test_bad_hosts_ports_and_tls_modes_are_refused_in_one_line(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("x")
    base = ["--db", db, "mailbox", "add", OWNER, "--password-file", str(secret)]
    cases = {
        ("--smtp-host", "smtp example.com"): "--smtp-host: not a host name or IP address",
        ("--smtp-host", "-bad-.example"): "--smtp-host: not a host name or IP address",
        ("--smtp-host", "smtp.example.com", "--smtp-port", "70000"): "--smtp-port: a port is",
        ("--smtp-host", "smtp.example.com", "--smtp-tls", "tls"): "--smtp-tls: one of ssl",
        ("--smtp-host", "smtp.example.com", "--imap-host", "imap..example"): "--imap-host: not",
    }
    for args, message in cases.items():
        result = cli(*base, *args)
        assert result.code == 2, (args, result.err)
        assert result.err.startswith(f"unghost: error: {message}"), result.err
        assert result.err.count("\n") == 1
    assert json.loads(cli("--db", db, "mailbox", "list", "--json").out) == {"mailboxes": []}


def test_an_unknown_fate_is_settled_with_outbox_resolve(cli: Cli, db: str) -> None:
    result = cli("--db", db, "outbox", "resolve", "12")
    assert result.code == 2 and "--sent" in result.err
    result = cli("--db", db, "outbox", "resolve", "12", "--sent")
    assert result.code == 2 and result.err == "unghost: error: no outbox message 12\n"


# --- the pieces --------------------------------------------------------------------------------


def test_hosts_are_names_or_ip_addresses() -> None:
    assert host("SMTP.Example.com.", "h") == "smtp.example.com"
    assert host("127.0.0.1", "h") == "127.0.0.1"
    assert host("[::1]", "h") == "::1"
    for bad in ("", "a b", "exa_mple.com", "a..b", "x" * 64 + ".com", "1.2.3.999"):
        with pytest.raises(BadInput):
            host(bad, "h")


def test_header_values_lose_their_line_breaks() -> None:
    assert header_value("Maya\r\nBcc: all@example.com", "n") == "Maya Bcc: all@example.com"
    assert one_line("a\nb\rc") == "a b c"


def test_the_key_file_is_made_once_with_mode_600(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", home=tmp_path / "home")
    first = load_key(settings)
    second = load_key(settings)
    assert first == second
    assert stat.S_IMODE((tmp_path / "home" / "secret.key").stat().st_mode) == 0o600
    assert first.key.decode() not in repr(first)


def test_the_environment_key_wins_and_is_never_in_a_repr(tmp_path: Path) -> None:
    settings = Settings.load({"UNGHOST_SECRET_KEY": TEST_KEY, "UNGHOST_HOME": str(tmp_path)})
    assert TEST_KEY not in repr(settings)
    key = load_key(settings)
    assert TEST_KEY not in repr(key)
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(BadInput, match="UNGHOST_SECRET_KEY: not a Fernet key"):
        Settings.load({"UNGHOST_SECRET_KEY": "too short", "UNGHOST_HOME": str(tmp_path)})


def test_a_password_sealed_under_another_key_says_what_to_do(tmp_path: Path) -> None:
    sealed = load_key(Settings(database_url="sqlite://", home=tmp_path / "a")).seal("pw")
    other = load_key(Settings(database_url="sqlite://", home=tmp_path / "b"))
    with pytest.raises(UnghostError, match="the secret key has changed"):
        other.unseal(sealed)


def test_unsubscribe_tokens_name_their_contact_and_cannot_be_forged(tmp_path: Path) -> None:
    key = load_key(Settings(database_url="sqlite://", home=tmp_path))
    token = make_token(41, 7, key)
    assert read_token(token, key) == (41, 7)
    forged = token.replace("41.", "42.", 1)
    for bad in (forged, token[:-1] + ("A" if token[-1] != "A" else "B"), "", "1.2", "x.y.z"):
        with pytest.raises(BadInput):
            read_token(bad, key)
    other = load_key(Settings(database_url="sqlite://", home=tmp_path / "other"))
    with pytest.raises(BadInput):
        read_token(token, other)
