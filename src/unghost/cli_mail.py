"""The mail commands of `unghost`: `mailbox add|test|list`, `outbox list|resolve`, `worker`.

Thin shells over services/mailboxes.py, services/outbox.py and worker.py. Passwords come
from a file or a prompt, never from a flag's value, and are never printed.
`register(app)` adds them to the main `unghost` app (cli.py).
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from unghost import worker as worker_module
from unghost.cli_shell import JsonOpt, err, out
from unghost.cli_shell import Shell as _Shell
from unghost.cli_shell import print_json as _print_json
from unghost.cli_shell import shell as _shell
from unghost.errors import BadInput, UnghostError
from unghost.services import browse, checks, mailboxes
from unghost.services import outbox as outbox_service
from unghost.services.secretkey import load_key
from unghost.services.send import write
from unghost.store import models as m
from unghost.store.db import session_factory

mailbox_app = typer.Typer(
    help="The mailbox unghost sends from (SMTP) and checks its Sent folder in (IMAP).",
    no_args_is_help=True,
)
outbox_app = typer.Typer(
    help="Messages on their way: list them, settle one interrupted mid-send.",
    no_args_is_help=True,
)


OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Only this user's (their email).")]


# -- mailbox ----------------------------------------------------------------------------


@mailbox_app.command("add")
def mailbox_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address mail goes out from.")],
    smtp_host: Annotated[str, typer.Option("--smtp-host", help="SMTP server.")],
    smtp_port: Annotated[
        int | None, typer.Option("--smtp-port", help="Default: 465 ssl, 587 starttls, 25 none.")
    ] = None,
    smtp_tls: Annotated[
        str, typer.Option("--smtp-tls", help="ssl, starttls or none.")
    ] = "starttls",
    smtp_user: Annotated[
        str | None, typer.Option("--smtp-user", help="Login; default the address.")
    ] = None,
    imap_host: Annotated[
        str | None, typer.Option("--imap-host", help="IMAP server, to check the Sent folder.")
    ] = None,
    imap_port: Annotated[
        int | None, typer.Option("--imap-port", help="Default: 993 ssl, 143 otherwise.")
    ] = None,
    imap_tls: Annotated[str, typer.Option("--imap-tls", help="ssl, starttls or none.")] = "ssl",
    imap_user: Annotated[
        str | None, typer.Option("--imap-user", help="Login; default the SMTP login.")
    ] = None,
    sent_folder: Annotated[str, typer.Option("--sent-folder", help="The Sent folder.")] = "Sent",
    copy_to_sent: Annotated[
        bool,
        typer.Option(
            "--copy-to-sent/--no-copy-to-sent",
            help="Put sent mail in the Sent folder; --no-copy-to-sent when the provider does "
            "it (Gmail, Outlook/Office 365).",
        ),
    ] = True,
    from_name: Annotated[
        str | None, typer.Option("--from-name", help="Name in From; default the owner's.")
    ] = None,
    per_day: Annotated[int, typer.Option("--per-day", help="At most this many a day.")] = 200,
    per_minute: Annotated[
        int, typer.Option("--per-minute", help="At most this many a minute.")
    ] = 10,
    postal_address: Annotated[
        str | None, typer.Option("--postal-address", help="The owner's address, for the footer.")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Read the password from this file.")
    ] = None,
    imap_password_file: Annotated[
        Path | None,
        typer.Option("--imap-password-file", help="The IMAP password, if not the same."),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="The server needs no login.")
    ] = False,
    owner: OwnerOpt = None,
) -> None:
    """Connect a mailbox; the password is read from --password-file or asked for."""
    shell = _shell(ctx)
    password = None if no_password else _password(password_file, f"Password for {email}")
    imap_password = _password(imap_password_file, "") if imap_password_file else None
    spec = mailboxes.MailboxSpec(
        email=email,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_tls=smtp_tls,
        smtp_user=smtp_user,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_tls=imap_tls,
        imap_user=imap_user,
        sent_folder=sent_folder,
        copy_to_sent=copy_to_sent,
        from_name=from_name,
        per_day=per_day,
        per_minute=per_minute,
        postal_address=postal_address,
    )
    key = load_key(shell.settings)
    with write(shell.engine) as session:
        box = mailboxes.add_mailbox(
            session,
            key,
            spec,
            password=password,
            imap_password=imap_password,
            owner_email=owner,
            now=datetime.now(UTC),
        )
        owner_email = session.get_one(m.User, box.owner_id).email
    out.print(
        f"mailbox {box.email} added for {owner_email}: SMTP {box.smtp_host}:"
        f"{box.smtp_port} ({box.smtp_tls})"
        + (
            f", IMAP {box.imap_host}:{box.imap_port} ({box.imap_tls})"
            if box.imap_host
            else ", no IMAP"
        ),
        markup=False,
    )
    if password:
        out.print(
            f"the password is stored encrypted; check it with `unghost mailbox test {box.email}`",
            markup=False,
        )
    for host, tls in ((box.smtp_host, box.smtp_tls), (box.imap_host, box.imap_tls)):
        if host and tls == "none" and not _loopback(host):
            err.print(
                f"warning: {host} is reached without TLS: the password travels in clear",
                markup=False,
            )


def _password(path: Path | None, prompt: str) -> str:
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise BadInput(f"--password-file: cannot read {path}: {exc.strerror}") from None
        password = text.rstrip("\r\n")
    else:
        password = str(typer.prompt(prompt, hide_input=True))
    if not password:
        raise BadInput("the password is empty (use --no-password for a server without login)")
    return password


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@mailbox_app.command("test")
def mailbox_test(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The mailbox's address.")],
) -> None:
    """Connect to the mailbox's SMTP and IMAP servers and say what works."""
    shell = _shell(ctx)
    with _read(shell) as session:
        box = mailboxes.find_mailbox(session, email)
    results = mailboxes.check_mailbox(box, load_key(shell.settings))
    for check in results:
        mark = "ok  " if check.ok else "FAIL"
        out.print(f"{mark} {check.what}: {check.detail}", markup=False)
    broken = [check.what.split()[0] for check in results if not check.ok]
    if broken:
        raise UnghostError(f"mailbox {box.email}: {' and '.join(broken)} did not work")


@mailbox_app.command("list")
def mailbox_list(ctx: typer.Context, owner: OwnerOpt = None, json: JsonOpt = False) -> None:
    """Every connected mailbox (passwords shown as ••••)."""
    shell = _shell(ctx)
    with _read(shell) as session:
        rows = mailboxes.list_mailboxes(session, browse.owner_scope(session, owner))
    if json:
        _print_json({"mailboxes": rows})
        return
    table = Table(box=None)
    for name in ("mailbox", "owner", "smtp", "imap", "password", "limits", "paused"):
        table.add_column(name)
    for r in rows:
        smtp, imap = r["smtp"], r["imap"]
        table.add_row(
            r["email"],
            r["owner"],
            f"{smtp['host']}:{smtp['port']} {smtp['tls']} as {smtp['user']}",
            f"{imap['host']}:{imap['port']} {imap['tls']}, {r['sent_folder']}" if imap else "—",
            smtp["password"] or "none",
            f"{r['per_day']}/day, {r['per_minute']}/min",
            f"until {r['paused_until'][:16]}: {r['pause_reason']}" if r["paused_until"] else "",
        )
    out.print(table)


# -- outbox -----------------------------------------------------------------------------


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only these states (repeatable).")
    ] = None,
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """Messages queued, sent, failed, cancelled, or of unknown fate."""
    for s in state or []:
        checks.choice(s, "--state", outbox_service.STATES, default=None)
    shell = _shell(ctx)
    with _read(shell) as session:
        rows = outbox_service.list_outbox(session, browse.owner_scope(session, owner), state)
    if json:
        _print_json({"outbox": rows})
        return
    table = Table(box=None)
    for name in ("id", "state", "deal", "to", "subject", "tries", "note"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["state"],
            r["deal"],
            ", ".join(r["to"]),
            r["subject"] or "",
            str(r["attempts"]),
            r["note"] or "",
        )
    out.print(table)


@outbox_app.command("resolve")
def outbox_resolve(
    ctx: typer.Context,
    message: Annotated[int, typer.Argument(help="The outbox id (`unghost outbox list`).")],
    sent: Annotated[
        bool | None,
        typer.Option("--sent/--not-sent", help="It is in your Sent folder / it never went."),
    ] = None,
    owner: OwnerOpt = None,
) -> None:
    """Say whether a message of unknown fate went: --sent records it, --not-sent resends it."""
    if sent is None:
        raise BadInput("say --sent (it is in your Sent folder) or --not-sent (send it again)")
    shell = _shell(ctx)
    with write(shell.engine) as session:
        owners = browse.owner_scope(session, owner)
        row = outbox_service.resolve_by_hand(
            session, owners, message, sent=sent, now=datetime.now(UTC), playbook=shell.playbook
        )
        state = row.state
    out.print(f"outbox message {message}: {'sent' if state == 'sent' else 'queued to send again'}")


# -- worker -----------------------------------------------------------------------------


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Pretend now is this time (ISO 8601); the clock runs on."),
    ] = None,
) -> None:
    """Send what is due, read mailboxes, replan; SIGTERM stops it after the current message."""
    shell = _shell(ctx)
    engine = shell.engine
    start = None
    if as_of is not None:
        with engine.connect() as conn:
            zones = list(conn.scalars(select(m.User.timezone).limit(2)))
        start = checks.moment(as_of, "--as-of", tz=zones[0] if len(zones) == 1 else "UTC")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("unghost")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        sent = worker_module.run(
            shell.settings, once=once, now_fn=worker_module.clock(start), engine=engine
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    with _read(shell) as session:
        waiting = outbox_service.list_outbox(
            session, list(session.scalars(select(m.User.id))), ["unknown"]
        )
    out.print(f"sent {sent} message{'' if sent == 1 else 's'}")
    stuck = [r for r in waiting if r["next_attempt_at"] is None]
    if stuck:
        out.print(
            f"{len(stuck)} message{'s' if len(stuck) != 1 else ''} of unknown fate "
            "need you: `unghost outbox list --state unknown`, then "
            "`unghost outbox resolve ID --sent` or `--not-sent`",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add the mail commands to the `unghost` app (a no-op for those already there)."""
    groups = {g.name for g in app.registered_groups}
    if "mailbox" not in groups:
        app.add_typer(mailbox_app, name="mailbox")
    if "outbox" not in groups:
        app.add_typer(outbox_app, name="outbox")
    if "worker" not in {c.name for c in app.registered_commands}:
        app.command("worker")(worker)


def _read(shell: _Shell) -> Session:
    return session_factory(shell.engine)()
