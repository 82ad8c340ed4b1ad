"""The owner's own profile: who signs the emails, and the calendar business time runs on.

`update_profile` checks every field before it changes any (a bad field leaves the profile
as it was), then replans the owner's open deals: due times fall in the owner's working
days and hours, so changing them moves the steps.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from unghost.domain.model import WEEKDAYS
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput
from unghost.services import checks
from unghost.services import plan as planning
from unghost.store import models as m

FIELDS = (
    "name", "phone", "signature", "postal_address", "timezone", "country", "working_days",
    "working_hours",
)  # fmt: skip


class InvalidProfile(BadInput):
    """One or more fields are wrong; `fields` maps each to its message. Nothing was stored."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def profile(user: m.User) -> dict[str, Any]:
    """The profile as the API and the Settings page show it (the workspace's `owner` shape)."""
    return {
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "signature": user.signature,
        "postal_address": user.postal_address,
        "timezone": user.timezone,
        "country": user.country,
        "working_days": [d for d in user.working_days.split(",") if d],
        "working_hours": [user.working_start, user.working_end],
        "admin": user.is_admin,
        "totp": user.totp_secret is not None,
    }


def update_profile(
    session: Session,
    user_id: int,
    fields: Mapping[str, Any],
    now: datetime,
    playbook: Playbook,
) -> m.User:
    """Change the fields given (the others stay), then replan the owner's open deals.

    `fields` uses the names of `FIELDS`; `working_days` is a list of mon…sun and
    `working_hours` a pair ["HH:MM", "HH:MM"]. Every wrong field is reported at once.
    """
    user = session.get_one(m.User, user_id)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidProfile({k: "not a profile field" for k in unknown})

    def check(name: str, read: Callable[[Any], Any]) -> None:
        if name not in fields:
            return
        if isinstance(fields[name], str) and has_control(fields[name]):
            errors[name] = "may not contain control characters"
            return
        try:
            values[name] = read(fields[name])
        except BadInput as exc:
            where, _, message = exc.message.partition(": ")
            errors[name] = message if where == name and message else exc.message

    check("name", _name)
    check("timezone", lambda v: checks.timezone(v, "timezone") or _required("timezone"))
    check("country", lambda v: checks.country(v, "country"))
    region = values.get("country", user.country) if "country" not in errors else None
    check("phone", lambda v: checks.phone(v, "phone", region=region))
    check("signature", lambda v: checks.text(v, "signature", max_len=2000))
    check("postal_address", lambda v: checks.text(v, "postal_address", max_len=500))
    check("working_days", _days)
    check("working_hours", _hours)
    if errors:
        raise InvalidProfile(errors)
    for name, value in values.items():
        if name == "working_days":
            user.working_days = value
        elif name == "working_hours":
            user.working_start, user.working_end = value
        else:
            setattr(user, name, value)
    session.flush()
    # Business hours or the signature may have changed: the drafts and due times follow.
    planning.plan(session, [user.id], now, playbook=playbook)
    return user


def has_control(text: str) -> bool:
    """Whether the text holds a control character other than a line break or a tab (a NUL
    cannot even be stored in PostgreSQL)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text)


def _required(where: str) -> NoReturn:
    raise BadInput(f"{where}: required")


def _name(value: Any) -> str:
    name = checks.one_line(value, "name", max_len=200, required=True)
    assert name is not None
    # The name goes in the From header and the signature, where markup has no place.
    if "<" in name or ">" in name:
        raise BadInput("name: may not contain < or >")
    return name


def _days(value: Any) -> str:
    if not isinstance(value, list | tuple) or any(not isinstance(d, str) for d in value):
        raise BadInput(f"working_days: must be a list of {', '.join(WEEKDAYS)}")
    wrong = [d for d in value if d not in WEEKDAYS]
    if wrong:
        raise BadInput(
            f"working_days: {checks.quote(wrong[0])} is not one of {', '.join(WEEKDAYS)}"
        )
    if not value:
        raise BadInput("working_days: choose at least one working day")
    return ",".join(d for d in WEEKDAYS if d in value)


def _hours(value: Any) -> tuple[str, str]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise BadInput('working_hours: must be a pair ["HH:MM", "HH:MM"]')
    start = checks.clock(value[0], "working_hours: the start")
    end = checks.clock(value[1], "working_hours: the end")
    if end <= start:
        raise BadInput("working_hours: the end must come after the start")
    return value[0], value[1]
