"""The Settings page and its JSON API: the owner's profile and working hours, mailboxes,
API tokens, the TOTP second factor, and (for admins) the team.

Every form re-renders the page with a message next to the field it is about; nothing is
stored on an error. A new TOTP secret is shown once and carried to the confirming form
sealed under the app's secret key, bound to the user and to the time it was made, so the
browser cannot swap in a secret of its own choosing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from unghost.errors import BadInput, Conflict, NotFound, UnghostError
from unghost.services import checks, mailboxes, profile, users, websessions
from unghost.services.secretkey import SecretKey
from unghost.store import models as m
from unghost.web.api import ERRORS
from unghost.web.auth import signed_in
from unghost.web.context import Viewer, client_of, web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
Signed = Annotated[Viewer, Depends(signed_in)]

# What the page lists: a token's public prefix, "ug_" and 8 URL-safe characters.
_PREFIX = re.compile(r"ug_[A-Za-z0-9_-]{8}")
# How long a shown TOTP secret may wait for its confirming code.
SETUP_LIFETIME = timedelta(minutes=30)
NOTICES = {
    "profile": "Profile saved. Your open deals were replanned for your working hours.",
    "revoked": "Token revoked: it no longer works.",
    "totp-on": "Two-step sign-in is on. Next time you sign in, unghost asks for a code.",
    "totp-off": "Two-step sign-in is off.",
}
WEEKDAY_NAMES = {
    "mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
    "fri": "Friday", "sat": "Saturday", "sun": "Sunday",
}  # fmt: skip
# Abuse caps for form fields; the real limits are the service's, with field messages.
LONG = 20_000
SHORT = 2_000


# -- the page ------------------------------------------------------------------------------


@router.get("/settings")
def settings_page(request: Request, viewer: Signed, done: str | None = None) -> Response:
    return _page(request, viewer, notice=NOTICES.get(done or ""))


def _page(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    form: dict[str, Any] | None = None,
    new_token: str | None = None,
    setup: dict[str, str] | None = None,
) -> Response:
    """The Settings page: the stored profile (or the form as sent, with its errors)."""
    app = web(request)
    with app.db() as s:
        user = s.get_one(m.User, viewer.id)
        stored = profile.profile(user)
        tz = checks.zone(user.timezone)
        tokens = [
            {
                "prefix": t.prefix,
                "name": t.name,
                "created": t.created_at.astimezone(tz),
                "last_used": t.last_used_at.astimezone(tz) if t.last_used_at else None,
            }
            for t, _ in users.list_tokens(s, user.email)
        ]
        boxes = mailboxes.list_mailboxes(s, [viewer.id])
        team = users.list_users(s) if viewer.is_admin else []
    context = {
        "profile": {**stored, **(form or {})},
        "totp_on": stored["totp"],
        "tokens": tokens,
        "mailboxes": boxes,
        "team": team,
        "errors": errors or {},
        "notice": notice,
        "new_token": new_token,
        "setup": setup,
        "weekdays": WEEKDAY_NAMES,
        "zones": sorted(checks.known_timezones()),
    }
    return render(request, "settings.html", context, status=status, page="settings")


def _field_errors(exc: UnghostError) -> dict[str, str]:
    if isinstance(exc, profile.InvalidProfile):
        return exc.fields
    field, _, message = exc.message.partition(": ")
    return {field: message} if message else {"form": exc.message}


# -- profile -------------------------------------------------------------------------------


@router.post("/settings/profile")
def save_profile(
    request: Request,
    viewer: Signed,
    name: Annotated[str, Form(max_length=SHORT)] = "",
    phone: Annotated[str, Form(max_length=SHORT)] = "",
    signature: Annotated[str, Form(max_length=LONG)] = "",
    postal_address: Annotated[str, Form(max_length=LONG)] = "",
    timezone: Annotated[str, Form(max_length=SHORT)] = "",
    country: Annotated[str, Form(max_length=SHORT)] = "",
    working_days: Annotated[list[str] | None, Form(max_length=50)] = None,
    working_start: Annotated[str, Form(max_length=SHORT)] = "",
    working_end: Annotated[str, Form(max_length=SHORT)] = "",
) -> Response:
    app = web(request)
    fields = {
        "name": name,
        "phone": phone,
        "signature": signature,
        "postal_address": postal_address,
        "timezone": timezone,
        "country": country,
        "working_days": list(working_days or []),
        "working_hours": [working_start, working_end],
    }
    try:
        with app.db() as s:
            profile.update_profile(s, viewer.id, fields, app.now(), app.playbook)
    except BadInput as exc:
        errors = {"profile": _field_errors(exc)}
        return _page(request, viewer, status=400, errors=errors, form=fields)
    return RedirectResponse("/settings?done=profile", 303)


# -- API tokens ----------------------------------------------------------------------------


@router.post("/settings/tokens")
def create_token(
    request: Request, viewer: Signed, name: Annotated[str, Form(max_length=SHORT)] = ""
) -> Response:
    app = web(request)
    try:
        label = checks.one_line(name, "name", max_len=100)
        if label and ("<" in label or ">" in label):
            raise BadInput("name: may not contain < or >")
        if label and profile.has_control(label):
            raise BadInput("name: may not contain control characters")
        with app.db() as s:
            token = users.create_token(s, viewer.email, name=label, now=app.now())
    except BadInput as exc:
        return _page(request, viewer, status=400, errors={"token": _field_errors(exc)})
    # Shown in this answer only: the store keeps nothing it could be read back from.
    return _page(request, viewer, new_token=token)


@router.post("/settings/tokens/{prefix}/revoke")
def revoke_token(
    request: Request,
    viewer: Signed,
    prefix: Annotated[str, Path(min_length=1, max_length=100)],
) -> Response:
    app = web(request)
    if not _PREFIX.fullmatch(prefix):
        raise NotFound("no live token with that prefix")
    with app.db() as s:
        # Another user's token is "no live token", exactly like one that never existed.
        users.revoke_token(s, prefix, now=app.now(), user_id=viewer.id)
    return RedirectResponse("/settings?done=revoked", 303)


# -- the second factor ---------------------------------------------------------------------


@router.post("/settings/totp/setup")
def totp_setup(request: Request, viewer: Signed) -> Response:
    """A new secret to put in an authenticator app, and the form for its first code."""
    app = web(request)
    if _totp_on(request, viewer):
        raise Conflict("two-step sign-in is already on: turn it off first to use a new app")
    secret = websessions.new_totp_secret()
    return _page(request, viewer, setup=_setup(app.key, viewer, secret, app.now()))


@router.post("/settings/totp/enable")
def totp_enable(
    request: Request,
    viewer: Signed,
    sealed: Annotated[str, Form(max_length=SHORT)] = "",
    code: Annotated[str, Form(max_length=SHORT)] = "",
) -> Response:
    app = web(request)
    now = app.now()
    secret = _unseal_setup(app.key, viewer, sealed, now)
    if secret is None:
        errors = {"totp": {"form": "this setup has expired: start again for a new secret"}}
        return _page(request, viewer, status=400, errors=errors)
    if not code.strip():
        errors = {"totp": {"code": "enter the six-digit code your app shows"}}
        return _page(request, viewer, status=400, errors=errors,
                     setup=_setup(app.key, viewer, secret, now))  # fmt: skip
    try:
        with app.db() as s:
            user = s.get_one(m.User, viewer.id)
            if user.totp_secret is not None:
                raise Conflict("two-step sign-in is already on")
            websessions.enable_totp(s, user, secret, code, key=app.key, now=now)
    except BadInput as exc:
        return _page(request, viewer, status=400, errors={"totp": _field_errors(exc)},
                     setup=_setup(app.key, viewer, secret, now))  # fmt: skip
    return RedirectResponse("/settings?done=totp-on", 303)


@router.post("/settings/totp/disable")
def totp_disable(
    request: Request, viewer: Signed, password: Annotated[str, Form(max_length=SHORT)] = ""
) -> Response:
    app = web(request)
    if not password:
        errors = {"totp": {"password": "enter your password to turn two-step sign-in off"}}
        return _page(request, viewer, status=400, errors=errors)
    try:
        with app.db() as s:
            user = s.get_one(m.User, viewer.id)
            right = websessions.recheck_password(
                s, user, password, client=client_of(request), now=app.now(), hasher=app.hasher
            )
            if right:
                websessions.disable_totp(s, user)
    except websessions.TooManyAttempts as exc:
        return _page(request, viewer, status=429, errors={"totp": {"password": exc.message}})
    if not right:
        errors = {"totp": {"password": "that password is not right"}}
        return _page(request, viewer, status=400, errors=errors)
    return RedirectResponse("/settings?done=totp-off", 303)


def _totp_on(request: Request, viewer: Viewer) -> bool:
    with web(request).db() as s:
        return s.get_one(m.User, viewer.id).totp_secret is not None


def _setup(key: SecretKey, viewer: Viewer, secret: str, now: datetime) -> dict[str, str]:
    """What the page shows for a new secret, with the secret sealed for the form."""
    sealed = key.seal(f"totp-setup {viewer.id} {int(now.timestamp())} {secret}")
    return {
        "secret": secret,
        "grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": websessions.provisioning_uri(secret, viewer.email),
        "sealed": sealed,
    }


def _unseal_setup(key: SecretKey, viewer: Viewer, sealed: str, now: datetime) -> str | None:
    """The secret sealed by `_setup` for this viewer, if recent; else None."""
    if not sealed:
        return None
    try:
        purpose, user_id, made, secret = key.unseal(sealed).split(" ")
    except (UnghostError, ValueError):
        return None
    if purpose != "totp-setup" or user_id != str(viewer.id) or not made.isdigit():
        return None
    age = now.timestamp() - int(made)
    if not 0 <= age <= SETUP_LIFETIME.total_seconds():
        return None
    return secret


# -- JSON API ------------------------------------------------------------------------------


class ProfileOut(BaseModel):
    email: str
    name: str
    phone: str | None
    signature: str | None
    postal_address: str | None
    timezone: str
    country: str | None
    working_days: list[str]
    working_hours: list[str]
    admin: bool
    totp: bool


class ProfileIn(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=SHORT)] = None
    phone: Annotated[str | None, Field(max_length=SHORT)] = None
    signature: Annotated[str | None, Field(max_length=LONG)] = None
    postal_address: Annotated[str | None, Field(max_length=LONG)] = None
    timezone: Annotated[str | None, Field(max_length=SHORT)] = None
    country: Annotated[str | None, Field(max_length=SHORT)] = None
    working_days: Annotated[
        list[Annotated[str, Field(max_length=20)]] | None, Field(max_length=50)
    ] = None
    working_hours: Annotated[
        list[Annotated[str, Field(max_length=20)]] | None, Field(max_length=10)
    ] = None


@api.get("/settings", response_model=ProfileOut)
def api_settings(request: Request, viewer: Signed) -> dict[str, Any]:
    """The signed-in user's profile: name, signature, time zone, working days and hours."""
    with web(request).db() as s:
        return profile.profile(s.get_one(m.User, viewer.id))


@api.patch("/settings", response_model=ProfileOut)
def api_update_settings(request: Request, viewer: Signed, change: ProfileIn) -> dict[str, Any]:
    """Change some profile fields (checked like the Settings form); open deals are replanned."""
    app = web(request)
    with app.db() as s:
        user = profile.update_profile(
            s, viewer.id, change.model_dump(exclude_unset=True), app.now(), app.playbook
        )
        return profile.profile(user)
