"""Import and export of the workspace JSON of CONTRACT.md (and CSV through `csvimport`).

Import is all or nothing: the whole file is checked and written in one
transaction, and any error rolls everything back. It is idempotent: records
are matched by id (touches by a digest of their fields), so importing the same
file twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, FromClause, insert, select, update
from sqlalchemy.orm import Session

from unghost.domain.model import MEETING_STATUSES, PROMISE_BY, STAGES, URGENCIES, WEEKDAYS
from unghost.errors import BadInput
from unghost.services import checks
from unghost.services.checks import quote
from unghost.services.owners import resolve_owner
from unghost.services.touchrows import TOUCH_COLUMNS, TouchRows, batches_in_worker, use_worker
from unghost.store import models as m
from unghost.store.bulk import indexes_built_after, insert_rows
from unghost.store.db import transaction

FORMAT = "unghost-workspace"
VERSION = 1
KINDS = ("contacts", "deals", "touches", "meetings", "promises", "content")
CHUNK = 20_000

Progress = Callable[[int], None]

_OWNER_FIELDS = {
    "name", "email", "phone", "signature", "timezone", "country", "working_days", "working_hours"
}  # fmt: skip
_FIELDS: dict[str, set[str]] = {
    "contacts": {
        "id", "name", "first_name", "email", "phone", "company", "title", "timezone", "linkedin",
        "interests", "humor_ok", "nearby", "assistant", "do_not_contact",
    },
    "deals": {
        "id", "contact", "title", "stage", "problem", "benefits", "cost_of_inaction",
        "referrer", "advocate", "urgency", "permission_to_say_no", "created_at", "proposal", "tags",
    },
    "meetings": {"deal", "at", "minutes", "confirmed", "status"},
    "promises": {"deal", "by", "who", "note", "made_at"},
    "content": {"id", "title", "url", "tags", "summary"},
}  # fmt: skip
_PROPOSAL_FIELDS = {"sent_at", "expires_at", "amount", "currency"}


@dataclass
class ImportResult:
    """What an import did (or, with dry_run, would do), per kind of record."""

    owner: str
    source: str
    dry_run: bool
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) + sum(self.updated.values()))

    def as_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "source": self.source,
            "dry_run": self.dry_run,
            "kinds": {
                k: {
                    "created": self.created[k],
                    "updated": self.updated[k],
                    "unchanged": self.unchanged[k],
                }
                for k in KINDS
            },
        }


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def read_document(path: Path) -> tuple[dict[str, Any], Mapping[str, str] | None, str]:
    """The file as a workspace document, the CSV line of each record, and its kind."""
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt") or (suffix != ".json" and not _looks_like_json(path)):
        from unghost.services.csvimport import read_csv

        sheet = read_csv(path)
        return sheet.doc, sheet.where, sheet.flavour
    data = path.read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from None
    if not isinstance(doc, dict):
        raise BadInput(f'{path}: must be a JSON object with "format": "{FORMAT}"')
    return doc, None, "workspace"


def _looks_like_json(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def import_file(
    engine: Engine,
    path: Path,
    *,
    owner_email: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], Progress] | None = None,
) -> ImportResult:
    """Import a workspace JSON or CRM CSV file, all or nothing."""
    doc, where, source = read_document(path)
    try:
        return import_document(
            engine,
            doc,
            source=source,
            where=where,
            owner_email=owner_email,
            dry_run=dry_run,
            progress=progress,
        )
    except BadInput as exc:
        raise BadInput(f"{path}: {exc.message}") from None


def import_document(
    engine: Engine,
    doc: Mapping[str, Any],
    *,
    source: str = "workspace",
    where: Mapping[str, str] | None = None,
    owner_email: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], Progress] | None = None,
) -> ImportResult:
    """Import a parsed workspace document in one transaction."""
    if doc.get("format") != FORMAT:
        raise BadInput(f'format: must be "{FORMAT}", not {quote(doc.get("format"))}')
    if doc.get("version") != VERSION:
        raise BadInput(
            f"version: unsupported version {quote(doc.get('version'))} (this is {VERSION})"
        )
    for kind in KINDS:
        if not isinstance(doc.get(kind, []), list):
            raise BadInput(f"{kind}: must be a list")
    total = sum(len(doc.get(k, [])) for k in KINDS)
    tick = progress(total) if progress is not None and total > 0 else None
    loc = _Locator(where)
    result: ImportResult | None = None
    try:
        with transaction(engine) as session:
            result = _Importer(session, doc, loc, source, owner_email, dry_run, tick).run()
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    assert result is not None
    return result


class _Locator:
    """Names a record and field the way the user can find it: `deals[3].contact` or `line 5`."""

    def __init__(self, where: Mapping[str, str] | None) -> None:
        self.where = where

    def __call__(self, kind: str, i: int, fld: str | None = None) -> str:
        record = f"{kind}[{i}]"
        if self.where is not None and record in self.where:
            record = self.where[record]
            return f"{record}: {fld}" if fld else record
        return f"{record}.{fld}" if fld else record

    def prefix(self, kind: str, i: int) -> str:
        """What goes before a field's name: `prefix(k, i) + f == self(k, i, f)`, built once."""
        record = f"{kind}[{i}]"
        if self.where is not None and record in self.where:
            return f"{self.where[record]}: "
        return f"{record}."


class _Importer:
    def __init__(
        self,
        session: Session,
        doc: Mapping[str, Any],
        loc: _Locator,
        source: str,
        owner_email: str | None,
        dry_run: bool,
        tick: Progress | None,
    ) -> None:
        self.s = session
        self.doc = doc
        self.loc = loc
        self.tick = tick or (lambda n: None)
        owner_doc = doc.get("owner")
        if owner_doc is not None and not isinstance(owner_doc, dict):
            raise BadInput("owner: must be an object")
        file_email = checks.email(owner_doc.get("email"), "owner.email") if owner_doc else None
        if owner_email and file_email and owner_email.lower() != file_email.lower():
            raise BadInput(
                f"owner.email: the file belongs to {file_email}, not --owner {owner_email}"
            )
        self.owner = resolve_owner(session, file_email or owner_email, create=True)
        self.result = ImportResult(owner=self.owner.email, source=source, dry_run=dry_run)
        self.owner_doc = owner_doc

    def run(self) -> ImportResult:
        if self.owner_doc:
            self._owner(self.owner_doc)
        self.tz = self.owner.timezone
        self.region = self.owner.country
        contacts = self._contacts(self.doc.get("contacts", []))
        deals = self._deals(self.doc.get("deals", []), contacts)
        self._content(self.doc.get("content", []))
        self._touches(self.doc.get("touches", []), deals, contacts)
        self._meetings(self.doc.get("meetings", []), deals)
        self._promises(self.doc.get("promises", []), deals)
        return self.result

    # -- owner ------------------------------------------------------------------
    def _owner(self, d: Mapping[str, Any]) -> None:
        _unknown(d, _OWNER_FIELDS, "owner")
        u = self.owner
        values: dict[str, Any] = {}
        if "name" in d:
            values["name"] = checks.one_line(d["name"], "owner.name") or ""
        if "timezone" in d:
            values["timezone"] = checks.timezone(d["timezone"], "owner.timezone") or "UTC"
        if "country" in d:
            values["country"] = checks.country(d["country"], "owner.country")
        region = values.get("country", u.country)
        if "phone" in d:
            values["phone"] = checks.phone(d["phone"], "owner.phone", region=region)
        if "signature" in d:
            values["signature"] = checks.text(d["signature"], "owner.signature", max_len=2000)
        if "working_days" in d:
            days = d["working_days"]
            if not isinstance(days, list) or not days or any(x not in WEEKDAYS for x in days):
                raise BadInput(f"owner.working_days: must be a list of {', '.join(WEEKDAYS)}")
            values["working_days"] = ",".join(x for x in WEEKDAYS if x in days)
        if "working_hours" in d:
            hours = d["working_hours"]
            if not isinstance(hours, list) or len(hours) != 2:
                raise BadInput('owner.working_hours: must be ["HH:MM", "HH:MM"]')
            start = checks.clock(hours[0], "owner.working_hours[0]")
            end = checks.clock(hours[1], "owner.working_hours[1]")
            if end <= start:
                raise BadInput("owner.working_hours: the end must come after the start")
            values["working_start"], values["working_end"] = hours[0], hours[1]
        changed = {k: v for k, v in values.items() if getattr(u, k) != v}
        for k, v in changed.items():
            setattr(u, k, v)
        self.s.flush()
        self._count("owner", created=False, changed=bool(changed))

    # -- contacts ---------------------------------------------------------------
    def _contacts(self, rows: Sequence[Any]) -> dict[str, int]:
        existing = {
            r.key: r
            for r in self.s.execute(
                select(m.Contact.__table__).where(m.Contact.owner_id == self.owner.id)
            )
        }
        seen: dict[str, int] = {}
        parsed: list[dict[str, Any]] = []
        for i, d in enumerate(rows):
            rec = self._contact(i, d)
            if rec["key"] in seen:
                raise BadInput(
                    f"{self.loc('contacts', i, 'id')}: duplicate id {quote(rec['key'])} "
                    f"(first at {self.loc('contacts', seen[rec['key']])})"
                )
            seen[rec["key"]] = i
            parsed.append(rec)
        keys = set(seen) | set(existing)
        for i, rec in enumerate(parsed):
            a = rec["assistant"]
            if a is not None and a not in keys:
                raise BadInput(f"{self.loc('contacts', i, 'assistant')}: no contact {quote(a)}")
            if a == rec["key"]:
                raise BadInput(
                    f"{self.loc('contacts', i, 'assistant')}: a contact cannot assist itself"
                )
        new = [self._contact_row(r) for r in parsed if r["key"] not in existing]
        for batch in _chunks(new):
            _insert_dicts(self.s, m.Contact.__table__, batch)
        self.result.created["contacts"] += len(new)
        ids = self._ids(m.Contact)
        assist: list[dict[str, Any]] = []
        for i, rec in enumerate(parsed):
            want_assistant = ids[rec["assistant"]] if rec["assistant"] else None
            old = existing.get(rec["key"])
            if old is None:
                if want_assistant is not None:
                    assist.append({"_id": ids[rec["key"]], "assistant_id": want_assistant})
                continue
            row = self._contact_row(rec)
            row["assistant_id"] = want_assistant
            given = _given(rows[i], _CONTACT_COLUMNS)
            diff = {k: v for k, v in row.items() if k in given and getattr(old, k) != v}
            if diff:
                self.s.execute(update(m.Contact).where(m.Contact.id == old.id).values(**diff))
                self.result.updated["contacts"] += 1
            else:
                self.result.unchanged["contacts"] += 1
        for a in assist:
            self.s.execute(
                update(m.Contact)
                .where(m.Contact.id == a["_id"])
                .values(assistant_id=a["assistant_id"])
            )
        self.tick(len(parsed))
        return ids

    def _contact(self, i: int, d: Any) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise BadInput(f"{self.loc('contacts', i)}: must be an object")
        if not _FIELDS["contacts"].issuperset(d):
            _unknown(d, _FIELDS["contacts"], self.loc("contacts", i))
        at = self.loc.prefix("contacts", i)  # at + "name" is where the name is
        return {
            "key": checks.key(d.get("id"), at + "id"),
            "name": checks.one_line(d.get("name"), at + "name", required=True),
            "first_name": checks.one_line(d.get("first_name"), at + "first_name", max_len=100),
            "email": checks.email(d.get("email"), at + "email"),
            "phone": checks.phone(d.get("phone"), at + "phone", region=self.region),
            "company": checks.one_line(d.get("company"), at + "company"),
            "title": checks.one_line(d.get("title"), at + "title"),
            "timezone": checks.timezone(d.get("timezone"), at + "timezone"),
            "linkedin": checks.url(d.get("linkedin"), at + "linkedin"),
            "interests": checks.strings(d.get("interests"), at + "interests"),
            "humor_ok": checks.flag(d.get("humor_ok"), at + "humor_ok"),
            "nearby": checks.flag(d.get("nearby"), at + "nearby"),
            "assistant": checks.key(d["assistant"], at + "assistant")
            if d.get("assistant") is not None
            else None,
            "do_not_contact": checks.flag(d.get("do_not_contact"), at + "do_not_contact"),
        }

    def _contact_row(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        row = {k: v for k, v in rec.items() if k != "assistant"}
        row["owner_id"] = self.owner.id
        return row

    # -- deals ------------------------------------------------------------------
    def _deals(self, rows: Sequence[Any], contacts: Mapping[str, int]) -> dict[str, int]:
        existing = {
            r.key: r
            for r in self.s.execute(
                select(m.Deal.__table__).where(m.Deal.owner_id == self.owner.id)
            )
        }
        seen: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        for i, d in enumerate(rows):
            row = self._deal(i, d, contacts)
            k = row["key"]
            if k in seen:
                raise BadInput(
                    f"{self.loc('deals', i, 'id')}: duplicate id {quote(k)} "
                    f"(first at {self.loc('deals', seen[k])})"
                )
            seen[k] = i
            old = existing.get(k)
            if old is None:
                new.append(row)
                continue
            given = _given(d, _DEAL_COLUMNS)
            diff = {f: v for f, v in row.items() if f in given and getattr(old, f) != v}
            if diff:
                self.s.execute(update(m.Deal).where(m.Deal.id == old.id).values(**diff))
                self.result.updated["deals"] += 1
            else:
                self.result.unchanged["deals"] += 1
            if len(seen) % CHUNK == 0:
                self.tick(CHUNK)
        for batch in _chunks(new):
            _insert_dicts(self.s, m.Deal.__table__, batch)
        self.result.created["deals"] += len(new)
        self.tick(len(seen) % CHUNK)
        return self._ids(m.Deal)

    def _deal(self, i: int, d: Any, contacts: Mapping[str, int]) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise BadInput(f"{self.loc('deals', i)}: must be an object")
        if not _FIELDS["deals"].issuperset(d):
            _unknown(d, _FIELDS["deals"], self.loc("deals", i))
        at = self.loc.prefix("deals", i)  # at + "contact" is where the contact is

        def ref(f: str, required: bool = False) -> int | None:
            v = d.get(f)
            if v is None:
                if required:
                    raise BadInput(f"{at}{f}: required")
                return None
            k = checks.key(v, at + f)
            if k not in contacts:
                raise BadInput(f"{at}{f}: no contact {quote(k)}")
            return contacts[k]

        row: dict[str, Any] = {
            "owner_id": self.owner.id,
            "key": checks.key(d.get("id"), at + "id"),
            "contact_id": ref("contact", required=True),
            "title": checks.one_line(d.get("title"), at + "title", max_len=300) or "",
            "stage": checks.choice(d.get("stage"), at + "stage", STAGES, default="open"),
            "problem": checks.text(d.get("problem"), at + "problem", max_len=2000),
            "benefits": checks.text(d.get("benefits"), at + "benefits", max_len=2000),
            "cost_of_inaction": checks.text(
                d.get("cost_of_inaction"), at + "cost_of_inaction", max_len=2000
            ),
            "referrer_id": ref("referrer"),
            "advocate_id": ref("advocate"),
            "urgency": checks.choice(d.get("urgency"), at + "urgency", URGENCIES, default="normal"),
            "permission_to_say_no": checks.flag(
                d.get("permission_to_say_no"), at + "permission_to_say_no"
            ),
            "tags": checks.strings(d.get("tags"), at + "tags"),
            "created_at": checks.moment(d.get("created_at"), at + "created_at", tz=self.tz),
            "proposal_sent_at": None,
            "proposal_expires_at": None,
            "proposal_amount": None,
            "proposal_currency": None,
        }
        p = d.get("proposal")
        if p is not None:
            if not isinstance(p, dict):
                raise BadInput(f"{at}proposal: must be an object")
            _unknown(p, _PROPOSAL_FIELDS, at + "proposal")
            row["proposal_sent_at"] = checks.moment(
                p.get("sent_at"), at + "proposal.sent_at", tz=self.tz
            )
            row["proposal_expires_at"] = checks.day(p.get("expires_at"), at + "proposal.expires_at")
            row["proposal_amount"] = checks.amount(p.get("amount"), at + "proposal.amount")
            row["proposal_currency"] = checks.currency(p.get("currency"), at + "proposal.currency")
        return row

    # -- content ----------------------------------------------------------------
    def _content(self, rows: Sequence[Any]) -> None:
        existing = {
            r.key: r
            for r in self.s.execute(
                select(m.ContentItem.__table__).where(m.ContentItem.owner_id == self.owner.id)
            )
        }
        seen: set[str] = set()
        for i, d in enumerate(rows):
            at = partial(self.loc, "content", i)
            if not isinstance(d, dict):
                raise BadInput(f"{self.loc('content', i)}: must be an object")
            _unknown(d, _FIELDS["content"], self.loc("content", i))
            ckey = checks.key(d.get("id"), at("id"))
            row: dict[str, Any] = {
                "owner_id": self.owner.id,
                "key": ckey,
                "title": checks.one_line(d.get("title"), at("title"), max_len=300, required=True),
                "url": checks.url(d.get("url"), at("url")),
                "tags": checks.strings(d.get("tags"), at("tags")),
                "summary": checks.text(d.get("summary"), at("summary"), max_len=2000),
            }
            if ckey in seen:
                raise BadInput(f"{at('id')}: duplicate id {quote(ckey)}")
            seen.add(ckey)
            old = existing.get(ckey)
            if old is None:
                self.s.execute(insert(m.ContentItem).values(**row))
                self.result.created["content"] += 1
                continue
            diff = {f: v for f, v in row.items() if getattr(old, f) != v}
            if diff:
                self.s.execute(
                    update(m.ContentItem).where(m.ContentItem.id == old.id).values(**diff)
                )
            self._count("content", created=False, changed=bool(diff))
        self.tick(len(rows))

    # -- touches ----------------------------------------------------------------
    def _touches(
        self, rows: Sequence[Any], deals: Mapping[str, int], contacts: Mapping[str, int]
    ) -> None:
        # The hot loop of a big import lives in touchrows; here the rows are written.
        deal_contact = {
            d: c
            for d, c in self.s.execute(
                select(m.Deal.id, m.Deal.contact_id).where(m.Deal.owner_id == self.owner.id)
            )
        }
        known = set(
            self.s.scalars(
                select(m.Touch.fingerprint)
                .join(m.Deal, m.Deal.id == m.Touch.deal_id)
                .where(m.Deal.owner_id == self.owner.id)
            )
        )
        made = TouchRows(
            rows,
            deals=deals,
            contacts=contacts,
            deal_contact=deal_contact,
            known=known,
            tz=self.tz,
            loc=self.loc,
        )
        # SQLite stores times as text: hand it the text (what SQLAlchemy would write).
        as_text = self.s.connection().dialect.name == "sqlite"
        may_be_new = len(rows) - len(known)  # a re-import keeps the index as it is
        batches = batches_in_worker(made) if use_worker(len(rows)) else made.batches()
        with closing(batches), indexes_built_after(self.s, m.Touch.__table__, may_be_new):
            for read, new in batches:
                if not as_text:
                    new = [(*r[:3], datetime.fromisoformat(r[3]), *r[4:]) for r in new]
                insert_rows(self.s, m.Touch.__table__, TOUCH_COLUMNS, new, converted=True)
                self.result.created["touches"] += len(new)
                self.tick(read)
        self.result.unchanged["touches"] += made.unchanged

    # -- meetings and promises --------------------------------------------------
    def _meetings(self, rows: Sequence[Any], deals: Mapping[str, int]) -> None:
        existing = {
            (r.deal_id, r.at): r
            for r in self.s.execute(
                select(m.Meeting.__table__)
                .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
                .where(m.Deal.owner_id == self.owner.id)
            )
        }
        for i, d in enumerate(rows):
            at = partial(self.loc, "meetings", i)
            if not isinstance(d, dict):
                raise BadInput(f"{self.loc('meetings', i)}: must be an object")
            _unknown(d, _FIELDS["meetings"], self.loc("meetings", i))
            deal_id = self._deal_ref(d.get("deal"), at("deal"), deals)
            when = checks.moment(d.get("at"), at("at"), tz=self.tz, required=True)
            assert when is not None
            row = {
                "deal_id": deal_id,
                "at": when,
                "minutes": checks.whole(
                    d.get("minutes"), at("minutes"), low=1, high=1440, default=30
                ),
                "confirmed": checks.flag(d.get("confirmed"), at("confirmed")),
                "status": checks.choice(
                    d.get("status"), at("status"), MEETING_STATUSES, default="scheduled"
                ),
            }
            old = existing.get((deal_id, when.astimezone(UTC)))
            if old is None:
                self.s.execute(insert(m.Meeting).values(**row))
                existing[(deal_id, when.astimezone(UTC))] = None  # type: ignore[assignment]
                self.result.created["meetings"] += 1
                continue
            diff = {f: v for f, v in row.items() if f != "at" and getattr(old, f) != v}
            if diff:
                self.s.execute(update(m.Meeting).where(m.Meeting.id == old.id).values(**diff))
            self._count("meetings", created=False, changed=bool(diff))
        self.tick(len(rows))

    def _promises(self, rows: Sequence[Any], deals: Mapping[str, int]) -> None:
        existing = {
            (r.deal_id, r.by, r.who): r
            for r in self.s.execute(
                select(m.Promise.__table__)
                .join(m.Deal, m.Deal.id == m.Promise.deal_id)
                .where(m.Deal.owner_id == self.owner.id)
            )
        }
        for i, d in enumerate(rows):
            at = partial(self.loc, "promises", i)
            if not isinstance(d, dict):
                raise BadInput(f"{self.loc('promises', i)}: must be an object")
            _unknown(d, _FIELDS["promises"], self.loc("promises", i))
            deal_id = self._deal_ref(d.get("deal"), at("deal"), deals)
            by = checks.day(d.get("by"), at("by"))
            if by is None:
                raise BadInput(f"{at('by')}: required")
            row = {
                "deal_id": deal_id,
                "by": by,
                "who": checks.choice(d.get("who"), at("who"), PROMISE_BY, default="prospect"),
                "note": checks.text(d.get("note"), at("note"), max_len=2000),
                "made_at": checks.moment(d.get("made_at"), at("made_at"), tz=self.tz),
            }
            old = existing.get((deal_id, by, row["who"]))
            if old is None:
                self.s.execute(insert(m.Promise).values(**row))
                existing[(deal_id, by, row["who"])] = None  # type: ignore[assignment]
                self.result.created["promises"] += 1
                continue
            diff = {f: v for f, v in row.items() if getattr(old, f) != v}
            if diff:
                self.s.execute(update(m.Promise).where(m.Promise.id == old.id).values(**diff))
            self._count("promises", created=False, changed=bool(diff))
        self.tick(len(rows))

    # -- helpers ----------------------------------------------------------------
    def _deal_ref(self, value: Any, where: str, deals: Mapping[str, int]) -> int:
        k = checks.key(value, where)
        if k not in deals:
            raise BadInput(f"{where}: no deal {quote(k)}")
        return deals[k]

    def _ids(self, model: type[m.Contact] | type[m.Deal]) -> dict[str, int]:
        rows = self.s.execute(select(model.key, model.id).where(model.owner_id == self.owner.id))
        return {k: i for k, i in rows}

    def _count(self, kind: str, *, created: bool, changed: bool) -> None:
        target = (
            self.result.created
            if created
            else self.result.updated
            if changed
            else self.result.unchanged
        )
        target[kind] += 1


# A field left out of a record leaves the stored value alone (a CRM export's empty cell
# means "not known here", not "clear it"); these map record fields to columns.
_CONTACT_COLUMNS = {"id": ("key",), "assistant": ("assistant_id",)}
_DEAL_COLUMNS = {
    "id": ("key",),
    "contact": ("contact_id",),
    "referrer": ("referrer_id",),
    "advocate": ("advocate_id",),
    "proposal": ("proposal_sent_at", "proposal_expires_at", "proposal_amount", "proposal_currency"),
}


def _given(record: Mapping[str, Any], columns: Mapping[str, tuple[str, ...]]) -> set[str]:
    """The columns a record gives values for."""
    out: set[str] = {"owner_id"}
    for f in record:
        out.update(columns.get(f, (f,)))
    return out


def _unknown(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise BadInput(f"{where}.{extra[0]}: unknown field")


def _insert_dicts(session: Session, table: FromClause, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        values = itemgetter(*columns)
        insert_rows(session, table, columns, [values(r) for r in rows])


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


# -- export ---------------------------------------------------------------------


def export_workspace(session: Session, owner_email: str | None = None) -> dict[str, Any]:
    """The owner's whole workspace in the JSON of CONTRACT.md (round-trips with import)."""
    owner = resolve_owner(session, owner_email, create=False)
    tz = checks.zone(owner.timezone)

    def iso(v: datetime | None) -> str | None:
        return v.astimezone(tz).isoformat() if v is not None else None

    def day(v: date | None) -> str | None:
        return v.isoformat() if v is not None else None

    contacts = list(
        session.scalars(
            select(m.Contact).where(m.Contact.owner_id == owner.id).order_by(m.Contact.id)
        )
    )
    ckey = {c.id: c.key for c in contacts}
    deals = list(
        session.scalars(select(m.Deal).where(m.Deal.owner_id == owner.id).order_by(m.Deal.id))
    )
    dkey = {d.id: d.key for d in deals}
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "owner": {
            "name": owner.name,
            "email": owner.email,
            "phone": owner.phone,
            "signature": owner.signature,
            "timezone": owner.timezone,
            "country": owner.country,
            "working_days": owner.working_days.split(","),
            "working_hours": [owner.working_start, owner.working_end],
        },
        "contacts": [
            {
                "id": c.key,
                "name": c.name,
                "first_name": c.first_name,
                "email": c.email,
                "phone": c.phone,
                "company": c.company,
                "title": c.title,
                "timezone": c.timezone,
                "linkedin": c.linkedin,
                "interests": c.interests,
                "humor_ok": c.humor_ok,
                "nearby": c.nearby,
                "assistant": ckey.get(c.assistant_id) if c.assistant_id else None,
                "do_not_contact": c.do_not_contact,
            }
            for c in contacts
        ],
        "deals": [
            {
                "id": d.key,
                "contact": ckey[d.contact_id],
                "title": d.title,
                "stage": d.stage,
                "problem": d.problem,
                "benefits": d.benefits,
                "cost_of_inaction": d.cost_of_inaction,
                "referrer": ckey.get(d.referrer_id) if d.referrer_id else None,
                "advocate": ckey.get(d.advocate_id) if d.advocate_id else None,
                "urgency": d.urgency,
                "permission_to_say_no": d.permission_to_say_no,
                "tags": d.tags,
                "created_at": iso(d.created_at),
                "proposal": _proposal(d, iso, day),
            }
            for d in deals
        ],
        "touches": [],
        "meetings": [],
        "promises": [],
        "content": [
            {"id": c.key, "title": c.title, "url": c.url, "tags": c.tags, "summary": c.summary}
            for c in session.scalars(
                select(m.ContentItem)
                .where(m.ContentItem.owner_id == owner.id)
                .order_by(m.ContentItem.id)
            )
        ],
    }
    touches = session.execute(
        select(m.Touch.__table__)
        .join(m.Deal, m.Deal.id == m.Touch.deal_id)
        .where(m.Deal.owner_id == owner.id)
        .order_by(m.Touch.deal_id, m.Touch.at, m.Touch.id)
    )
    out["touches"] = [
        {
            "deal": dkey[t.deal_id],
            "contact": ckey.get(t.contact_id) if t.contact_id else None,
            "at": iso(t.at.replace(tzinfo=UTC) if t.at.tzinfo is None else t.at),
            "channel": t.channel,
            "direction": t.direction,
            "outcome": t.outcome,
            "subject": t.subject,
            "body": t.body,
            "play": t.play,
            "variant": t.variant,
            "content": t.content_key,
        }
        for t in touches
    ]
    out["meetings"] = [
        {
            "deal": dkey[x.deal_id],
            "at": iso(x.at),
            "minutes": x.minutes,
            "confirmed": x.confirmed,
            "status": x.status,
        }
        for x in session.scalars(
            select(m.Meeting)
            .join(m.Deal, m.Deal.id == m.Meeting.deal_id)
            .where(m.Deal.owner_id == owner.id)
            .order_by(m.Meeting.deal_id, m.Meeting.at)
        )
    ]
    out["promises"] = [
        {
            "deal": dkey[p.deal_id],
            "by": day(p.by),
            "who": p.who,
            "note": p.note,
            "made_at": iso(p.made_at),
        }
        for p in session.scalars(
            select(m.Promise)
            .join(m.Deal, m.Deal.id == m.Promise.deal_id)
            .where(m.Deal.owner_id == owner.id)
            .order_by(m.Promise.deal_id, m.Promise.by)
        )
    ]
    return out


def _proposal(
    d: m.Deal,
    iso: Callable[[datetime | None], str | None],
    day: Callable[[date | None], str | None],
) -> dict[str, Any] | None:
    if d.proposal_sent_at is None and d.proposal_expires_at is None and d.proposal_amount is None:
        return None
    amount = d.proposal_amount
    return {
        "sent_at": iso(d.proposal_sent_at),
        "expires_at": day(d.proposal_expires_at),
        "amount": (int(amount) if amount == amount.to_integral_value() else float(amount))
        if amount is not None
        else None,
        "currency": d.proposal_currency,
    }
