"""Who may do what: every route of the web app, for every method, read off the app.

The cast (tests/web_helpers.py): the sample's owner (a member with 42 deals), another
member with one deal of her own, and an admin. Each route is called with its parameters
naming the owner's objects (tests/web_routes.py), so a route added later is in the matrix
without anyone listing it:
- no session and no token: pages send the browser to /login, the API answers 401;
- the other member, by session or by API token: 404 (403 where only an admin may go),
  and never a word of the owner's data, and nothing of the owner's changed;
- the owner opens every page of their own; an admin opens everyone's;
- a cookie-authenticated POST without the session's CSRF token is refused (403) and
  changes nothing.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from unghost.services import websessions
from unghost.store.db import transaction
from unghost.web.context import COOKIE
from web_helpers import Site, csrf_of
from web_routes import (
    Owned,
    Route,
    body_of,
    leaked,
    owner_markers,
    routes,
    snapshot,
    user_id,
)


def call(
    client: TestClient,
    route: Route,
    owned: Owned,
    *,
    actor: str,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """One request to the route naming `owned`'s objects, with a valid body, as `actor`
    would send it."""
    kwargs: dict[str, Any] = {}
    if route.body or route.unsafe:
        body = body_of(route, actor, owned)
        if route.form:
            files = {n: ("sample.csv", b"name,email\n", "text/csv")
                     for n, schema, _ in route.body if schema.get("type") == "file"}  # fmt: skip
            data = {k: v for k, v in body.items() if k not in files}
            kwargs["data"] = {**data, **(form or {})}
            if files:
                kwargs["files"] = files
        elif route.body:
            kwargs["json"] = body
        elif form is not None:
            kwargs["data"] = form
    url = owned.url(route)
    response: Response = client.request(route.method, url, headers=headers or {}, **kwargs)
    return response


def session_of(site: Site, email: str) -> tuple[TestClient, str]:
    """A fresh signed-in client and its session's CSRF token."""
    client = site.client(email)
    with transaction(site.engine) as s:
        signed = websessions.current(s, client.cookies.get(COOKIE), site.now)
        assert signed is not None
        return client, signed.csrf


def is_error_shape(response: Response, status: int) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and set(body) == {"error", "status"}
        and isinstance(body["error"], str)
        and body["status"] == status
    )


def describe(route: Route, response: Response) -> str:
    return f"{route}: {response.status_code} {response.text[:200]!r}"


@pytest.fixture
def owned(site: Site) -> Owned:
    """The owner's objects the matrix names: a deal, its contact, a step due today…"""
    found = Owned.of(site, site.owner)
    for route in routes(site.app):  # make what is made on first use, before any snapshot
        # A parameter it cannot fill: test_the_matrix_knows_every_route_… names the route.
        with suppress(LookupError):
            found.url(route)
    return found


def test_the_matrix_knows_every_route_and_every_parameter(site: Site, owned: Owned) -> None:
    table = routes(site.app)
    served = {str(r) for r in table}
    for known in ("GET /today", "GET /api/today", "GET /api/deals/{deal}",
                  "POST /steps/{step_id}/skip", "POST /api/deals/{deal}/touches",
                  "POST /logout"):  # fmt: skip
        assert known in served
    assert not any(r.path.startswith(("/login", "/static", "/u/")) for r in table)
    unfilled = []
    for route in table:
        try:
            owned.url(route)
        except LookupError as exc:
            unfilled.append(str(exc))
    assert not unfilled, "\n".join(unfilled)


def test_without_a_session_or_token_pages_go_to_sign_in_and_the_api_answers_401(
    site: Site, owned: Owned
) -> None:
    anonymous = site.client()
    before = snapshot(site.engine, owned.user_id)
    wrong = []
    for route in routes(site.app):
        r = call(anonymous, route, owned, actor=site.owner)
        if route.api:
            if r.status_code != 401 or not is_error_shape(r, 401):
                wrong.append(describe(route, r))
        elif not (
            (r.status_code == 303 and r.headers["location"].startswith("/login"))
            or r.status_code == 401
        ):
            wrong.append(describe(route, r))
    assert not wrong, "\n".join(wrong)
    assert snapshot(site.engine, owned.user_id) == before


def _as_the_other_member(site: Site, owned: Owned, *, by_token: bool) -> None:
    """Every route, as the other member, naming the owner's objects."""
    markers = owner_markers(site.engine, owned.user_id)
    before = snapshot(site.engine, owned.user_id)
    reader, reader_csrf = session_of(site, site.other)
    reader_token = site.token(site.other)
    wrong = []
    for route in routes(site.app):
        # A write may sign the member out or change her tokens: each gets fresh ones.
        if route.unsafe:
            client, csrf = session_of(site, site.other)
            token = site.token(site.other)
        else:
            client, csrf, token = reader, reader_csrf, reader_token
        if by_token:
            client = site.client()
            headers = {"Authorization": f"Bearer {token}"}
        else:
            headers = {"X-CSRF-Token": csrf} if route.unsafe else {}
        r = call(client, route, owned, actor=site.other, headers=headers)
        shown = leaked(r.text + r.headers.get("location", ""), markers)
        if shown:
            wrong.append(f"{describe(route, r)} shows the owner's {shown[:3]}")
        if route.admin_only:
            expected: set[int] | None = {403}
        elif route.scoped:
            expected = {404}
        else:
            expected = None  # the member's own view, or "only an admin may" (403)
        if expected is not None and r.status_code not in expected:
            wrong.append(f"{describe(route, r)}; expected {sorted(expected)}")
        elif expected is None and (r.status_code >= 500 or r.status_code == 401):
            wrong.append(f"{describe(route, r)}; expected the member's own view (or 403)")
        elif route.api and r.status_code >= 400 and not is_error_shape(r, r.status_code):
            wrong.append(f"{describe(route, r)}: not the API's error shape")
    assert not wrong, "\n".join(wrong)
    assert snapshot(site.engine, owned.user_id) == before, "the other member changed the owner's"


def test_another_members_session_gets_404_and_none_of_the_owners_data(
    site: Site, owned: Owned
) -> None:
    _as_the_other_member(site, owned, by_token=False)


def test_another_members_api_token_gets_404_and_none_of_the_owners_data(
    site: Site, owned: Owned
) -> None:
    _as_the_other_member(site, owned, by_token=True)


def test_the_owner_opens_every_page_of_their_own(site: Site, owned: Owned) -> None:
    client, _ = session_of(site, site.owner)
    admin, _ = session_of(site, site.admin)
    wrong = []
    for route in routes(site.app):
        if route.method != "GET":
            continue
        r = call(admin if route.admin_only else client, route, owned, actor=site.owner)
        if r.status_code in (401, 403, 404) or r.status_code >= 500:
            wrong.append(describe(route, r))
    assert not wrong, "\n".join(wrong)


def test_an_admin_sees_every_members_deals(site: Site, owned: Owned) -> None:
    admin, _ = session_of(site, site.admin)
    rival = Owned(site, site.other, user_id(site.engine, site.other), deal_key="rival-deal")
    wrong = []
    for route in routes(site.app):
        if route.method != "GET":
            continue
        for who in (owned, rival):
            if who is rival and [p.name for p in route.path_params] != ["deal"]:
                continue
            r = call(admin, route, who, actor=site.admin)
            if r.status_code in (401, 403, 404) or r.status_code >= 500:
                wrong.append(describe(route, r))
            if "text/html" in r.headers.get("content-type", "") and "<script>alert" in r.text:
                wrong.append(f"{describe(route, r)}: a contact's name is not escaped")
    assert not wrong, "\n".join(wrong)
    r = admin.get("/api/deals/rival-deal")
    assert r.status_code == 200
    assert r.json()["title"] == "Rival's <b>secret</b> deal"


def test_a_post_without_this_sessions_csrf_token_is_refused_and_changes_nothing(
    site: Site, owned: Owned
) -> None:
    client, csrf = session_of(site, site.owner)
    _, second_session_csrf = session_of(site, site.owner)
    _, other_member_csrf = session_of(site, site.other)
    before = snapshot(site.engine, owned.user_id)
    tries: list[tuple[str, dict[str, str], dict[str, str] | None]] = [
        ("no token", {}, None),
        ("a wrong header", {"X-CSRF-Token": "not-the-token"}, None),
        ("a wrong form field", {}, {"csrf": "not-the-token"}),
        ("another session's token", {"X-CSRF-Token": second_session_csrf}, None),
        ("another member's token", {}, {"csrf": other_member_csrf}),
    ]
    wrong = []
    unsafe = [r for r in routes(site.app) if r.unsafe]
    assert unsafe
    for route in unsafe:
        for what, headers, form in tries:
            r = call(client, route, owned, actor=site.owner, headers=headers, form=form)
            if r.status_code != 403 or (route.api and not is_error_shape(r, 403)):
                wrong.append(f"{describe(route, r)} with {what}")
    assert not wrong, "\n".join(wrong)
    assert snapshot(site.engine, owned.user_id) == before
    # The session is still signed in, and the same form with its token goes through.
    assert client.get("/today").status_code == 200
    save = client.post(
        f"/steps/{owned.step_id}/save",
        data={"csrf": csrf, "subject": "Checking in", "body": "Hello again."},
    )
    assert save.status_code == 303
    assert snapshot(site.engine, owned.user_id) != before


def test_the_session_cookie_is_httponly_and_samesite_lax(site: Site) -> None:
    from web_helpers import PASSWORD

    r = TestClient(site.app, follow_redirects=False).post(
        "/login", data={"email": site.owner, "password": PASSWORD}
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    attributes = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    assert attributes["path"].strip() == "Path=/"


def test_signing_out_ends_the_session_on_the_server(site: Site) -> None:
    client = site.client(site.owner)
    cookie = client.cookies[COOKIE]
    page = client.get("/today")
    assert page.status_code == 200
    r = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    # The old cookie, kept by someone, no longer opens anything.
    stolen = TestClient(site.app, follow_redirects=False, cookies={COOKIE: cookie})
    after = stolen.get("/today")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login")
    api = stolen.get("/api/today")
    assert api.status_code == 401
    assert is_error_shape(api, 401)
