"""Every route of the web app, read off the app itself, and real values for its parameters.

The access, schema and query-count tests walk `routes(app)`, so a route added later is
checked without anyone listing it. Path and query parameters are filled by name with the
ids of one user's own objects (`Owned`); a parameter this module cannot fill fails the test
with the route's name (add the name to `Owned.value`). Request bodies are built from the
route's declared fields: a value by field name where the name says what it is (`SAMPLES`),
otherwise the simplest value of the field's type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from typing import Annotated, Any

from fastapi import FastAPI, params
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from sqlalchemy import Engine, Table, func, select

from unghost.services import agenda
from unghost.services.mailboxes import MailboxSpec, add_mailbox
from unghost.store import models as m
from unghost.store.db import transaction
from web_helpers import PASSWORD, Site

# Not part of the matrix: assets, the schema document, signing in, one-click unsubscribe.
EXCLUDED = re.compile(r"^/(static|api/openapi\.json|login|u/\{token\})(/|$)")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Parameters naming what every user shares (the playbook), not one owner's objects.
SHARED = frozenset({"play", "play_id", "variant", "variant_id", "n"})


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int or str
    required: bool


@dataclass(frozen=True)
class Route:
    """One method of one route, as the app serves it."""

    method: str
    path: str  # "/api/deals/{deal}", convertors kept: "{variant:path}"
    path_params: tuple[Param, ...]
    query_params: tuple[Param, ...]
    body: tuple[tuple[str, dict[str, Any], bool], ...]  # (name, JSON schema, required)
    form: bool  # the body is a form (pages), not JSON (the API)
    embed: bool  # JSON body fields are keys of one object
    admin_only: bool

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def unsafe(self) -> bool:
        return self.method in UNSAFE

    @property
    def scoped(self) -> bool:
        """The path names one owner's object: another member must get a 404."""
        return any(p.name not in SHARED for p in self.path_params)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def routes(app: FastAPI) -> list[Route]:
    """Every method of every route of `app`, minus `EXCLUDED`, in path order."""
    out = []
    for route in _api_routes(app):
        if EXCLUDED.match(route.path):
            continue
        dependant = route.dependant
        body = tuple(
            (f.alias, _schema(f.field_info), f.field_info.is_required())
            for f in dependant.body_params
            if f.alias != "csrf"
        )
        form = any(isinstance(f.field_info, params.Form) for f in dependant.body_params)
        embed = len(dependant.body_params) > 1 or any(
            getattr(f.field_info, "embed", False) for f in dependant.body_params
        )
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append(
                Route(
                    method=method,
                    path=route.path,
                    path_params=tuple(_param(f) for f in dependant.path_params),
                    query_params=tuple(_param(f) for f in dependant.query_params),
                    body=body,
                    form=form,
                    embed=embed,
                    admin_only=_needs_admin(dependant),
                )
            )
    return sorted(out, key=lambda r: (r.path, r.method))


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """The app's APIRoutes with their full paths; FastAPI >= 0.16x keeps included routers
    as lazy groups, which `iter_route_contexts` flattens."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: a flat list
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context  # type: ignore[misc]  # the same attributes, prefix applied


def _param(f: Any) -> Param:
    annotation = f.field_info.annotation
    kind = int if annotation is int or annotation == int | None else str
    return Param(f.alias, kind, f.field_info.is_required())


def _schema(info: Any) -> dict[str, Any]:
    annotation = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    try:
        schema: dict[str, Any] = TypeAdapter(annotation).json_schema()
    except Exception:  # an upload or another type with no JSON schema
        return {"type": "file"} if "UploadFile" in repr(annotation) else {}
    return schema


def _needs_admin(dependant: Any) -> bool:
    from unghost.web.auth import admin

    return any(d.call is admin or _needs_admin(d) for d in dependant.dependencies)


# --- the objects of one user -------------------------------------------------------------------


@dataclass
class Owned:
    """Real objects of one user, to put in routes: a deal with an open email step due
    today, its contact, a reply, a touch, an API token…; made on first use when missing."""

    site: Site
    email: str
    user_id: int = 0
    deal_key: str = ""
    deal_id: int = 0
    contact_key: str = ""
    contact_id: int = 0
    step_id: int = 0
    _made: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, site: Site, email: str, *, deal: str | None = None) -> Owned:
        """Plan the user's deals and pick the first email step due today (of `deal`)."""
        app = site.app.state.web
        with transaction(site.engine) as s:
            user = s.scalars(select(m.User).where(m.User.email == email)).one()
            items = agenda.today(s, [user.id], site.now, playbook=app.playbook)["items"]
            steps = [i for i in items if i["kind"] == "step" and i.get("step_id")]
            steps = [i for i in steps if deal is None or i["deal"] == deal]
            email_steps = [i for i in steps if i["channel"] == "email"] or steps
            assert email_steps, f"{email} has no step due today to fill routes with"
            first = email_steps[0]
            deal = s.scalars(
                select(m.Deal).where(m.Deal.owner_id == user.id, m.Deal.key == first["deal"])
            ).one()
            contact = s.get_one(m.Contact, deal.contact_id)
            return cls(site, email, user.id, deal.key, deal.id, contact.key, contact.id,
                       first["step_id"])  # fmt: skip

    def value(self, route: Route, param: Param) -> Any:
        """The value of this path or query parameter, naming this user's object."""
        name = param.name.lower()
        number = param.kind is int
        if name in ("deal", "deal_key", "deal_id"):
            return self.deal_id if number else self.deal_key
        if name in ("contact", "contact_key", "contact_id", "person"):
            return self.contact_id if number else self.contact_key
        if name in ("step", "step_id"):
            return self.step_id
        if name in ("reply", "reply_id"):
            return self.reply_id
        if name in ("touch", "touch_id"):
            return self._first(m.Touch.id, m.Touch.deal_id == self.deal_id)
        if name in ("meeting", "meeting_id"):
            return self._first(m.Meeting.id, *self._of_deals(m.Meeting.deal_id))
        if name in ("promise", "promise_id"):
            return self._first(m.Promise.id, *self._of_deals(m.Promise.deal_id))
        if name in ("content", "content_key", "content_id"):
            col = m.ContentItem.id if number else m.ContentItem.key
            return self._first(col, m.ContentItem.owner_id == self.user_id)
        if name in ("user", "user_id", "email"):
            return self.user_id if number else self.email
        if name in ("token", "token_id", "prefix"):
            token_id, prefix = self.api_token
            return token_id if number else prefix
        if name in ("mailbox", "mailbox_id"):
            return self.mailbox_id
        if name in ("play", "play_id"):
            return self.play
        if name in ("variant", "variant_id", "n"):
            # "<play>/<n>": the number alone when the route names the play too
            with_play = any(p.name in ("play", "play_id") for p in route.path_params)
            return 1 if number else ("1" if with_play else f"{self.play}/1")
        raise LookupError(
            f"{route}: no value for the parameter {param.name!r}; "
            "teach tests/web_routes.py (Owned.value) which object it names"
        )

    def choices(self, route: Route, param: Param) -> list[Any]:
        """Every value of this parameter naming one of the user's objects, where that is
        cheap to list (deals, open steps); else the one `value`."""
        name, number = param.name.lower(), param.kind is int
        with transaction(self.site.engine) as s:
            if name in ("deal", "deal_key", "deal_id"):
                column = m.Deal.id if number else m.Deal.key
                return list(s.scalars(select(column).where(m.Deal.owner_id == self.user_id)))
            if name in ("step", "step_id"):
                return list(
                    s.scalars(
                        select(m.Step.id)
                        .join(m.Deal, m.Deal.id == m.Step.deal_id)
                        .where(m.Deal.owner_id == self.user_id)
                        .where(m.Step.status.in_(("planned", "approved")))
                    )
                )
        return [self.value(route, param)]

    def url(self, route: Route, *, queries: bool = True) -> str:
        """The route's path with its parameters filled; known query parameters too."""

        def fill(match: re.Match[str]) -> str:
            name = match[1]
            param = next(p for p in route.path_params if p.name == name)
            return str(self.value(route, param))

        path = re.sub(r"\{(\w+)(?::\w+)?\}", fill, route.path)
        query = []
        for param in route.query_params:
            try:
                query.append(f"{param.name}={self.value(route, param)}")
            except LookupError:
                if param.required:
                    raise
        return path + ("?" + "&".join(query) if queries and query else "")

    # the objects made or looked up on first use

    @property
    def reply_id(self) -> int:
        """An unhandled reply on another of the user's deals (the sample has none)."""
        if "reply" not in self._made:
            with transaction(self.site.engine) as s:
                deal_id = (
                    s.scalar(
                        select(m.Deal.id)
                        .where(m.Deal.owner_id == self.user_id, m.Deal.id != self.deal_id)
                        .order_by(m.Deal.id)
                        .limit(1)
                    )
                    or self.deal_id
                )
                deal = s.get_one(m.Deal, deal_id)
                reply = m.Reply(
                    owner_id=self.user_id,
                    deal_id=deal.id,
                    contact_id=deal.contact_id,
                    message_id=f"<access-{self.user_id}@test.example>",
                    received_at=self.site.now - timedelta(hours=2),
                    from_address="prospect@test.example",
                    subject="Re: next week",
                    new_text="Thanks, can we talk on Thursday?",
                    intent="interested",
                    confidence=0.9,
                )
                s.add(reply)
                s.flush()
                self._made["reply"] = reply.id
        reply_id: int = self._made["reply"]
        return reply_id

    @property
    def api_token(self) -> tuple[int, str]:
        if "token" not in self._made:
            self.site.token(self.email)
            with transaction(self.site.engine) as s:
                row = s.execute(
                    select(m.ApiToken.id, m.ApiToken.prefix)
                    .where(m.ApiToken.user_id == self.user_id)
                    .order_by(m.ApiToken.id.desc())
                    .limit(1)
                ).one()
                self._made["token"] = (row.id, row.prefix)
        made: tuple[int, str] = self._made["token"]
        return made

    @property
    def mailbox_id(self) -> int:
        if "mailbox" not in self._made:
            app = self.site.app.state.web
            spec = MailboxSpec(email=self.email, smtp_host="127.0.0.1", smtp_port=2525,
                               smtp_tls="none")  # fmt: skip
            with transaction(self.site.engine) as s:
                box = add_mailbox(s, app.key, spec, password="secret", now=self.site.now)
                self._made["mailbox"] = box.id
        box_id: int = self._made["mailbox"]
        return box_id

    @property
    def play(self) -> str:
        plays = self.site.app.state.web.playbook.plays
        return str(next(p.id for p in plays if p.variants))

    def _of_deals(self, column: Any) -> tuple[Any, ...]:
        deals = select(m.Deal.id).where(m.Deal.owner_id == self.user_id)
        return (column.in_(deals),)

    def _first(self, column: Any, *where: Any) -> Any:
        with transaction(self.site.engine) as s:
            found = s.scalar(select(column).where(*where).order_by(column).limit(1))
        assert found is not None, f"{self.email} has no {column} to fill a route with"
        return found


# --- request bodies ------------------------------------------------------------------------------

# Values by field name: what a person would type. `None`: the acting user's own email.
SAMPLES: dict[str, Any] = {
    "channel": "email",
    "direction": "out",
    "outcome": "sent",
    "subject": "Checking in",
    "body": "Hello, just checking in on last week's note.",
    "until": "tomorrow",
    "at": "2026-11-30T09:00",
    "back": "/today",
    "next": "/today",
    "send": False,
    "name": "Sample name",
    "title": "Sample title",
    "company": "Sample Co",
    "phone": "+1 617 555 0100",
    "timezone": "America/New_York",
    "country": "US",
    "working_start": "09:00",
    "working_end": "17:00",
    "working_days": "mon,tue,wed,thu,fri",
    "intent": "interested",
    "stage": "open",
    "urgency": "normal",
    "code": "000000",
    "email": None,
}


# Body fields naming an object: filled with the acting-on user's own (`Owned.value`).
OBJECT_FIELDS = frozenset({"deal", "contact", "step_id", "reply_id", "play"})


def body_of(route: Route, actor: str, owned: Owned | None = None) -> Any:
    """A valid body for the route (form fields or JSON), as `actor` would send it, with
    the fields that name an object naming `owned`'s."""

    def named(name: str, schema: dict[str, Any]) -> Any:
        if owned is None or name not in OBJECT_FIELDS:
            return None
        kind = int if schema.get("type") == "integer" else str
        return owned.value(route, Param(name, kind, False))

    fields: dict[str, Any] = {}
    for name, schema, required in route.body:
        if name in SAMPLES or name in OBJECT_FIELDS or "password" in name or required:
            fields[name] = _sample(name, schema, schema, actor, named)
    if route.form or route.embed or len(route.body) != 1:
        return fields
    name, schema, _ = route.body[0]
    return fields[name] if name in fields else _sample(name, schema, schema, actor, named)


def _sample(
    name: str,
    schema: dict[str, Any],
    root: dict[str, Any],
    actor: str,
    named: Callable[[str, dict[str, Any]], Any],
) -> Any:
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        return _sample(name, root.get("$defs", {}).get(ref, {}), root, actor, named)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _sample(name, options[0] if options else {}, root, actor, named)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        wanted = set(schema.get("required", ())) | set(SAMPLES) | OBJECT_FIELDS
        return {
            key: _sample(key, sub, root, actor, named)
            for key, sub in schema.get("properties", {}).items()
            if key in wanted
        }
    found = named(name, schema)
    if found is not None:
        return found
    if "enum" in schema:
        value = SAMPLES.get(name)
        return value if value in schema["enum"] else schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "password" in name:
        return PASSWORD
    if name in SAMPLES and kind in (None, "string", "boolean"):
        value = SAMPLES[name]
        if kind == "string" and schema.get("format") == "date-time":
            return "2026-11-30T09:00:00-05:00"
        return actor if value is None else value
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-11-30T09:00:00-05:00"
        if fmt == "date":
            return "2026-11-30"
        if fmt == "email":
            return actor
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return "x"


# --- what one owner has in the database --------------------------------------------------------

# Columns that change by merely using the app (a session's last request, a token's last use).
VOLATILE = frozenset({"last_seen_at", "last_used_at", "expires_at"})


def snapshot(engine: Engine, owner_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the owner has, table by table (followed through foreign keys from users)."""
    ids: dict[str, set[int]] = {"users": {owner_id}}
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as con:
        for table in m.Base.metadata.sorted_tables:
            where = _owned_by(table, ids)
            if where is None:
                continue
            columns = [c for c in table.columns if c.name not in VOLATILE]
            rows = con.execute(select(*columns).where(where).order_by(table.c.id)).all()
            ids[table.name] = {r.id for r in rows}
            out[table.name] = [tuple(r) for r in rows]
    return out


def _owned_by(table: Table, ids: dict[str, set[int]]) -> Any:
    if table.name == "users":
        return table.c.id.in_(ids["users"])
    for column in ("owner_id", "user_id", "deal_id", "step_id", "outbox_id", "mailbox_id"):
        if column in table.c:
            (fk,) = table.c[column].foreign_keys
            parent = fk.column.table.name
            if parent in ids:
                return table.c[column].in_(ids[parent])
    return None


def owner_markers(engine: Engine, owner_id: int) -> list[str]:
    """Text only the owner's pages may show: contact names and emails, deal titles."""
    with engine.connect() as con:
        texts = list(
            con.scalars(select(m.Contact.name).where(m.Contact.owner_id == owner_id))
        ) + list(con.scalars(select(m.Contact.email).where(m.Contact.owner_id == owner_id)))
        texts += list(con.scalars(select(m.Deal.title).where(m.Deal.owner_id == owner_id)))
        texts += list(con.scalars(select(m.User.email).where(m.User.id == owner_id)))
    found = {t for t in texts if t and len(t) > 5}
    return sorted(found | {escape(t) for t in found})


def leaked(text: str, markers: list[str]) -> list[str]:
    """The markers that appear in a response."""
    return [t for t in markers if t in text]


def user_id(engine: Engine, email: str) -> int:
    with engine.connect() as con:
        found: int = con.scalars(
            select(m.User.id).where(func.lower(m.User.email) == email.lower())
        ).one()
        return found
