"""`unghost reply …`: reading inbound messages (a thin shell over services.replies and
services.ingest)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from unghost import cli_shell
from unghost.channels.inbox.parse import ParsedReply
from unghost.errors import BadInput
from unghost.services import checks
from unghost.services.ingest import IngestResult, ingest
from unghost.services.owners import resolve_owner
from unghost.services.replies import parse_files

reply_app = typer.Typer(
    help="Read inbound messages: new text, auto-replies, bounces, intent and dates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_PREVIEW = 240


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"--as-of: {value!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.astimezone()  # no offset: this machine's zone


@reply_app.command("parse")
def parse(
    files: Annotated[
        list[Path], typer.Argument(help="Raw RFC 5322 messages or plain-text bodies.")
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Reference time when a message has no Date header (ISO 8601)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON: one object per file.")] = False,
) -> None:
    """Parse messages: new text, auto-reply, bounce, intent, the dates they name."""
    results = parse_files(files, as_of=_as_of(as_of), now=datetime.now(UTC))
    if as_json:
        single = len(files) == 1
        for path, parsed in results:
            body: dict[str, Any] = parsed.as_json()
            if not single:
                body = {"file": str(path), **body}
            sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    for number, (path, parsed) in enumerate(results):
        if number:
            sys.stdout.write("\n")
        sys.stdout.write(summary(path, parsed) + "\n")


def summary(path: Path, parsed: ParsedReply) -> str:
    """A few readable lines about one parsed message."""
    lines = [str(path)]
    sender = parsed.from_address or ""
    if parsed.from_name and sender:
        sender = f"{parsed.from_name} <{sender}>"
    heading = "  ".join(
        part
        for part in (
            f"from: {sender}" if sender else "",
            f"subject: {parsed.subject}" if parsed.subject else "",
            f"date: {parsed.date.isoformat()}" if parsed.date else "",
        )
        if part
    )
    if heading:
        lines.append(f"  {heading}")
    if parsed.bounce is not None:
        bounce = parsed.bounce
        kind = "hard" if bounce.hard else "soft"
        lines.append(
            f"  bounce: {kind}, status {bounce.status or 'unknown'}, "
            f"recipient {bounce.recipient or 'unknown'}"
        )
    elif parsed.report is not None:
        what = "spam complaint" if parsed.report == "complaint" else "read receipt"
        lines.append(f"  {what} (not a reply)")
    elif parsed.auto_reply is not None:
        back = f", back {parsed.return_date.isoformat()}" if parsed.return_date else ""
        lines.append(f"  auto-reply: {parsed.auto_reply.replace('_', ' ')}{back}")
    else:
        lines.append(f"  intent: {parsed.intent} ({parsed.confidence:.2f})")
    if parsed.unsubscribe:
        lines.append("  unsubscribe: yes")
    if parsed.dates:
        lines.append("  dates: " + ", ".join(day.isoformat() for day in parsed.dates))
    text = " ".join(parsed.new_text.split())
    if text:
        preview = text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"
        lines.append(f"  new text: {preview}")
    return "\n".join(lines)


@reply_app.command("ingest")
def ingest_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A raw RFC 5322 message.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Pretend now is this time (ISO 8601; owner's zone if no offset)."
        ),
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="The user whose mail it is (their email).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Parse a raw message, match it to a deal, record it and react (PRODUCT §5)."""
    shell = cli_shell.shell(ctx)
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise BadInput(f"{file}: cannot be read ({exc.strerror or exc})") from exc
    with shell.write() as session:
        user = resolve_owner(session, owner, create=False)
        now = checks.moment(as_of, "--as-of", tz=user.timezone) if as_of else None
        try:
            result = ingest(
                session,
                data,
                now=now or datetime.now(UTC),
                playbook=shell.playbook,
                owner_ids=[user.id],
            )
        except BadInput as exc:
            raise BadInput(f"{file}: {exc.message}") from exc
    if as_json:
        sys.stdout.write(orjson.dumps(result.as_json()).decode() + "\n")
        return
    sys.stdout.write(ingest_summary(file, result) + "\n")


def ingest_summary(path: Path, result: IngestResult) -> str:
    """What was read, what it matched, and how unghost reacted."""
    lines = [summary(path, result.parsed)]
    if result.duplicate:
        lines.append(f"  already ingested (reply {result.reply_id}): nothing done")
        return "\n".join(lines)
    for said in result.reactions:
        lines.append(f"  → {said}")
    if result.deal is not None:
        step = result.next_step
        after = (
            f"next: {step['play']} by {step['channel']}, due {step['due'][:16]}"
            if step
            else "no step planned"
        )
        lines.append(f"  deal {result.deal}: {result.state}; {after}")
    return "\n".join(lines)
