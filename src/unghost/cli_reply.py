"""`unghost reply …`: reading inbound messages (a thin shell over services.replies)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from unghost.channels.inbox.parse import ParsedReply
from unghost.errors import BadInput
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
