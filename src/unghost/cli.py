"""The `unghost` command: a thin shell over the services.

Errors are one line on stderr, `unghost: error: <what>`, with exit status 2
for bad input and 1 for anything else (CONTRACT.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.exceptions import TyperException

from unghost import cli_mail, cli_users, cli_web
from unghost.cli_reply import reply_app
from unghost.cli_shell import JsonOpt, err, out
from unghost.cli_shell import print_json as _print_json
from unghost.domain.calendar import BusinessCalendar
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput, UnghostError
from unghost.services import agenda, browse, checks, demo, touches, workspace
from unghost.services import plan as planning
from unghost.services.owners import owner_of, resolve_owner
from unghost.settings import Settings
from unghost.store.db import make_engine, session_factory, transaction

app = typer.Typer(
    name="unghost",
    help="Keeps stalled sales conversations alive: who went silent, why, and what to send today.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

PROGRESS_THRESHOLD = 5_000


class Context:
    """What every command needs: settings, and an engine made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def playbook(self) -> Playbook:
        return planning.default_playbook(self.settings.playbook_dir)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with session_factory(self.engine)() as session:
            yield session

    def write(self) -> Any:
        return transaction(self.engine)

    def close(self) -> None:
        """Close the database connections this command opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


_OPENED: list[Context] = []  # closed when main() returns, so no connection outlives a command


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (sqlite:///PATH or postgresql+psycopg://…)."),
    ] = None,
) -> None:
    ctx.obj = Context(Settings.load(os.environ, db=db))
    _OPENED.append(ctx.obj)


OwnerOpt = Annotated[
    str | None, typer.Option("--owner", help="Only this user's deals (their email).")
]


def _progress_factory() -> Callable[[int], Callable[[int], None]]:
    progress: Progress | None = None

    def start(total: int) -> Callable[[int], None]:
        nonlocal progress
        if total < PROGRESS_THRESHOLD:
            return lambda n: None
        progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        progress.start()
        task = progress.add_task("import", total=total)

        def tick(n: int) -> None:
            assert progress is not None
            progress.advance(task, n)
            if progress.finished:
                progress.stop()

        return tick

    return start


# -- import / export --------------------------------------------------------------


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Workspace JSON, or a CRM's CSV export.")],
    owner: OwnerOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Import a workspace JSON file or a HubSpot, Pipedrive, Salesforce or generic CSV."""
    c = _ctx(ctx)
    result = workspace.import_file(
        c.engine,
        file,
        owner_email=owner or c.settings.owner_email,
        dry_run=dry_run,
        progress=None if json else _progress_factory(),
    )
    if json:
        _print_json(result.as_json())
        return
    verb = "would import" if dry_run else "imported"
    out.print(f"{verb} {file} ({result.source}) for {result.owner}")
    table = Table("records", "created", "updated", "unchanged", box=None)
    for kind in workspace.KINDS:
        r = result
        if r.created[kind] or r.updated[kind] or r.unchanged[kind]:
            table.add_row(kind, str(r.created[kind]), str(r.updated[kind]), str(r.unchanged[kind]))
    out.print(table)
    if not result.changed:
        out.print("nothing changed")


@app.command()
def export(
    ctx: typer.Context,
    owner: OwnerOpt = None,
    json: JsonOpt = True,
) -> None:
    """Print the whole workspace as JSON (it round-trips with `unghost import`)."""
    c = _ctx(ctx)
    with c.read() as session:
        _print_json(workspace.export_workspace(session, owner or c.settings.owner_email))


# -- recording --------------------------------------------------------------------


@app.command()
def log(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option("--deal", help="The deal's id.")],
    channel: Annotated[str, typer.Option("--channel", help="email, call, voicemail, meeting…")],
    direction: Annotated[str, typer.Option("--direction", help="out (you) or in (them).")],
    outcome: Annotated[str | None, typer.Option("--outcome", help="sent, connected, …")] = None,
    play: Annotated[str | None, typer.Option("--play", help="The play it carried out.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (ISO 8601); default now.")] = None,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    body: Annotated[str | None, typer.Option("--body")] = None,
    contact: Annotated[
        str | None, typer.Option("--contact", help="Another contact than the deal's.")
    ] = None,
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a touch: a call, an email, a meeting, a reply."""
    c = _ctx(ctx)
    with c.write() as session:
        summary = touches.log_touch(
            session,
            browse.owner_scope(session, owner),
            deal=deal,
            at=at,
            now=datetime.now(UTC),
            playbook=c.playbook,
            channel=channel,
            direction=direction,
            outcome=outcome,
            subject=subject,
            body=body,
            play=play,
            contact=contact,
        )
    if json:
        _print_json(summary)
    else:
        out.print(f"logged {channel} {direction} on {deal} at {summary['at']}")


def parse_time(value: str, flag: str, tz: str) -> datetime:
    """An ISO 8601 time from the command line; without an offset, in the owner's zone."""
    when = checks.moment(value, flag, tz=tz)
    assert when is not None
    return when


# -- reading ----------------------------------------------------------------------


@app.command()
def contacts(ctx: typer.Context, owner: OwnerOpt = None, json: JsonOpt = False) -> None:
    """List contacts."""
    c = _ctx(ctx)
    with c.read() as session:
        rows = browse.list_contacts(session, browse.owner_scope(session, owner))
    if json:
        _print_json({"contacts": rows})
        return
    table = Table(box=None)
    table.add_column("id", no_wrap=True)
    for name in ("name", "company", "email", "phone", "time zone"):
        table.add_column(name)
    for r in rows:
        name = r["name"] + (" (do not contact)" if r["do_not_contact"] else "")
        table.add_row(
            r["id"],
            name,
            r["company"] or "",
            r["email"] or "",
            r["phone"] or "",
            r["timezone"] or "",
        )
    out.print(table)


@app.command()
def deals(ctx: typer.Context, owner: OwnerOpt = None, json: JsonOpt = False) -> None:
    """List deals with their contact, stage and last touch."""
    c = _ctx(ctx)
    with c.read() as session:
        rows = browse.list_deals(session, browse.owner_scope(session, owner))
    if json:
        _print_json({"deals": rows})
        return
    _deals_table(rows)


def _deals_table(rows: list[dict[str, Any]]) -> None:
    table = Table(box=None)
    table.add_column("deal", no_wrap=True)
    for name in ("title", "contact", "stage", "urgency", "last touch"):
        table.add_column(name)
    for r in rows:
        contact = r["contact_name"] + (f", {r['company']}" if r["company"] else "")
        table.add_row(
            r["id"],
            r["title"],
            contact,
            r["stage"],
            r["urgency"],
            (r["last_touch"] or "")[:16].replace("T", " "),
        )
    out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    deal: Annotated[str, typer.Argument(help="The deal's id.")],
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """A deal's timeline: every touch, meeting, promise and the proposal."""
    c = _ctx(ctx)
    with c.read() as session:
        data = browse.deal_timeline(session, browse.owner_scope(session, owner), deal)
    if json:
        _print_json(data)
        return
    contact = data["contact"]
    out.print(f"[bold]{data['title'] or data['deal']}[/bold]  ({data['deal']}, {data['stage']})")
    out.print(f"{contact['name']}" + (f", {contact['company']}" if contact["company"] else ""))
    if data["problem"]:
        out.print(f"problem: {data['problem']}")
    table = Table("when", "what", "", box=None)
    for e in data["events"]:
        table.add_row(str(e["at"])[:16].replace("T", " "), *_event_text(e))
    out.print(table)


def _event_text(e: dict[str, Any]) -> tuple[str, str]:
    if e["kind"] == "touch":
        arrow = "→" if e["direction"] == "out" else "←"
        what = f"{arrow} {e['channel']}" + (f" ({e['outcome']})" if e["outcome"] else "")
        if e["play"]:
            what += f" [{e['play']}]"
        return what, e["subject"] or (e["body"] or "")[:80]
    if e["kind"] == "meeting":
        confirmed = "confirmed " if e["confirmed"] else ""
        return f"{confirmed}meeting, {e['minutes']} min", e["status"]
    if e["kind"] == "promise":
        return f"promise by {e['who']}", e["note"] or ""
    amount = f"{e['currency'] or ''} {e['amount'] or ''}".strip()
    return "proposal sent", f"{amount}, expires {e['expires_at'] or 'not set'}"


# -- the engine -------------------------------------------------------------------

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Pretend now is this time (ISO 8601; owner's zone if no offset)."),
]


def _as_of(session: Session, owners: list[int], as_of: str | None) -> datetime:
    """`--as-of`, read in the owner's time zone when it has no offset; else now."""
    if as_of is None:
        return datetime.now(UTC)
    from unghost.store import models as m

    tz = "UTC"
    if len(owners) == 1:
        tz = session.get_one(m.User, owners[0]).timezone
    return parse_time(as_of, "--as-of", tz)


@app.command()
def plan(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    deal: Annotated[str | None, typer.Option("--deal", help="Only this deal.")] = None,
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every open deal's state and next step, drafted, timed and explained."""
    c = _ctx(ctx)
    with c.write() as session:
        owners = browse.owner_scope(session, owner)
        now = _as_of(session, owners, as_of)
        if deal is not None:
            browse.find_deal(session, owners, deal)
        planned = planning.plan(
            session, owners, now, playbook=c.playbook, deals=[deal] if deal else None
        )
        data = planning.plan_json(planned, now)
    if json:
        _print_json(data)
        return
    for d in data["deals"]:
        reasons = ", ".join(d["reasons"])
        out.print(f"[bold]{d['deal']}[/bold]  {d['state']}" + (f" ({reasons})" if reasons else ""))
        if d["next"]:
            _print_step(d["next"], indent="  ")


def _print_step(step: dict[str, Any], indent: str = "") -> None:
    to = ", ".join(step["to"]) + (f" (cc {', '.join(step['cc'])})" if step["cc"] else "")
    out.print(
        f"{indent}→ {step['play']} by {step['channel']} to {to}, due {step['due'][:16]}",
        markup=False,
    )
    if step.get("dial"):
        out.print(f"{indent}  dial: {step['dial']}", markup=False)
    if step.get("script"):
        out.print(f"{indent}  script: {step['script']}", markup=False)
    if step["subject"]:
        out.print(f"{indent}  subject: {step['subject']}", markup=False)
    for line in (step["body"] or "").splitlines():
        out.print(f"{indent}  | {line}", markup=False)
    out.print(f"{indent}  why: {step['why']}", style="dim", markup=False)
    for w in step["warnings"]:
        out.print(f"{indent}  warning: {w}", style="yellow", markup=False)


@app.command()
def today(
    ctx: typer.Context, as_of: AsOfOpt = None, owner: OwnerOpt = None, json: JsonOpt = False
) -> None:
    """What is due today: replies first, then missed meetings, then by due time."""
    c = _ctx(ctx)
    with c.write() as session:
        owners = browse.owner_scope(session, owner)
        now = _as_of(session, owners, as_of)
        data = agenda.today(session, owners, now, playbook=c.playbook)
    if json:
        _print_json(data)
        return
    _print_today(data)


def _print_today(data: dict[str, Any]) -> None:
    items = data["items"]
    out.print(f"[bold]Today[/bold], as of {data['as_of'][:16].replace('T', ' ')}: "
              f"{len(items)} item{'s' if len(items) != 1 else ''}")  # fmt: skip
    for i, item in enumerate(items, 1):
        head = f"{i}. {item['deal']} ({item['contact']})"
        if item["kind"] == "reply":
            out.print(f"\n{head}: reply, {item['intent']}", markup=False)
            out.print(f"  {item['new_text']}", markup=False)
        elif item["kind"] == "question":
            out.print(f"\n{head}: {item['question']}", markup=False)
        else:
            out.print(f"\n{head}", markup=False)
            _print_step(item, indent="  ")


@app.command("cadence")
def cadence_(
    ctx: typer.Context,
    deal: Annotated[str, typer.Argument(help="The deal's id.")],
    as_of: AsOfOpt = None,
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """The whole cadence mapped out for a deal, with dates, if no reply comes."""
    c = _ctx(ctx)
    with c.read() as session:
        owners = browse.owner_scope(session, owner)
        now = _as_of(session, owners, as_of)
        data = agenda.cadence(session, owners, deal, now, playbook=c.playbook)
    if json:
        _print_json(data)
        return
    table = Table(box=None, title=f"cadence for {deal} if no reply comes", title_justify="left")
    for name in ("due", "play", "channel", "to", "subject"):
        table.add_column(name)
    for s in data["steps"]:
        table.add_row(s["due"][:16].replace("T", " "), s["play"], s["channel"],
                      ", ".join(s["to"]), s["subject"] or "")  # fmt: skip
    out.print(table)


@app.command()
def slots(
    ctx: typer.Context,
    calendar: Annotated[
        Path | None, typer.Option("--calendar", help="An iCalendar (.ics) file of busy times.")
    ] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Show the times in this zone.")] = None,
    count: Annotated[int, typer.Option("--count", min=1, max=20, help="How many.")] = 3,
    as_of: AsOfOpt = None,
    owner: OwnerOpt = None,
    json: JsonOpt = False,
) -> None:
    """Free times to propose: your working hours minus your meetings, on different days."""
    c = _ctx(ctx)
    with c.read() as session:
        owners = browse.owner_scope(session, owner)
        now = _as_of(session, owners, as_of)
        data = agenda.slots(session, owners, now, tz=tz, count=count, calendar=calendar)
    if json:
        _print_json(data)
        return
    for s in data:
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        out.print(f"{start:%a %-d %b %H:%M}–{end:%H:%M} {start.tzname()}")


step_app = typer.Typer(help="Mark a deal's next step done or skipped.", no_args_is_help=True)
app.add_typer(step_app, name="step")
app.add_typer(reply_app, name="reply")
cli_mail.register(app)
cli_users.register(app)
cli_web.register(app)


def _finish(ctx: typer.Context, deal: str, at: str | None, owner: str | None, skip: bool,
            json: bool) -> None:  # fmt: skip
    c = _ctx(ctx)
    with c.write() as session:
        owners = browse.owner_scope(session, owner)
        when = _as_of(session, owners, at)
        data = agenda.finish_step(session, owners, deal, when, playbook=c.playbook, skip=skip)
    if json:
        _print_json(data)
        return
    out.print(
        f"{data['step']['play']} on {deal}: {data['step']['status']}; deal is {data['state']}"
    )
    if data["next"]:
        _print_step(data["next"], indent="  next: ")


AtOpt = Annotated[str | None, typer.Option("--at", help="When (ISO 8601); default now.")]


@step_app.command("done")
def step_done(ctx: typer.Context, deal: str, at: AtOpt = None, owner: OwnerOpt = None,
              json: JsonOpt = False) -> None:  # fmt: skip
    """The deal's next step was done: its touch is recorded as sent, and the deal replanned."""
    _finish(ctx, deal, at, owner, skip=False, json=json)


@step_app.command("skip")
def step_skip(ctx: typer.Context, deal: str, at: AtOpt = None, owner: OwnerOpt = None,
              json: JsonOpt = False) -> None:  # fmt: skip
    """Skip the deal's next step; the planner moves on to the following play."""
    _finish(ctx, deal, at, owner, skip=True, json=json)


@app.command("demo")
def demo_(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Load the sample workspace (a consultant's ~40 deals) and show today's agenda."""
    c = _ctx(ctx)
    now = datetime.now(UTC)
    result, _anchor = demo.load_demo(c.engine, now.date())
    with c.write() as session:
        owner = resolve_owner(session, result.owner, create=False)
        # On a weekend or holiday, show the next working morning's agenda instead of nothing.
        now = BusinessCalendar.for_owner(owner_of(owner)).next_business_time(now)
        data = agenda.today(session, [owner.id], now, playbook=c.playbook)
    if json:
        _print_json({"import": result.as_json(), "today": data})
        return
    out.print(
        f"Loaded the sample workspace of {result.owner} into {c.settings.database_url}"
        f" ({result.created['deals']} deals, {result.created['touches']} touches).\n"
    )
    _print_today(data)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning every error into one line and an exit status."""
    try:
        _run(argv)
    finally:
        while _OPENED:
            _OPENED.pop().close()


def _run(argv: list[str] | None) -> None:
    try:
        app(args=argv, prog_name="unghost", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors: exit 2
        _fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except UnghostError as exc:
        _fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


def _fail(message: str, code: int) -> None:
    first = " ".join(message.split())
    sys.stderr.write(f"unghost: error: {first}\n")
    sys.exit(code)


__all__ = ["BadInput", "app", "main"]
