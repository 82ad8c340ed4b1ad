"""Signing in and out, and the dependencies that make every other route need it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from unghost.services import websessions
from unghost.web.context import (
    COOKIE,
    SAFE_METHODS,
    Forbidden,
    NotSignedIn,
    Viewer,
    client_of,
    viewer_of,
    web,
)
from unghost.web.render import render

router = APIRouter(include_in_schema=False)

# The half-open cookie between the password and the second factor.
PENDING = "unghost_pending"


async def signed_in(request: Request) -> Viewer:
    """The viewer; 401 without a live session or token; 403 for a cookie POST without CSRF."""
    viewer = viewer_of(request)
    if viewer is None:
        raise NotSignedIn("sign in first: no valid session or API token")
    if request.method not in SAFE_METHODS and viewer.csrf is not None:
        given = request.headers.get("x-csrf-token")
        if given is None and _is_form(request):
            given = str((await request.form()).get("csrf") or "") or None
        if not websessions.same_token(viewer.csrf, given):
            raise Forbidden("the form has expired or did not come from this app: reload the page")
    return viewer


async def admin(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """The viewer, who must be an admin."""
    if not viewer.is_admin:
        raise Forbidden("only an admin may do this")
    return viewer


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def safe_next(target: str | None) -> str:
    """Only a path of this app: never another site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/today"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if viewer_of(request) is not None:
        return RedirectResponse(safe_next(next), 303)
    return render(request, "login.html", {"next": safe_next(next), "errors": {}, "email": ""})


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/today",
) -> Response:
    app = web(request)
    target = safe_next(next)
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "enter your email"
    if not password:
        errors["password"] = "enter your password"
    signed = None
    if not errors:
        try:
            with app.db() as s:
                signed = websessions.sign_in(
                    s, email, password, client=client_of(request), now=app.now(), hasher=app.hasher
                )
        except websessions.TooManyAttempts as exc:
            errors["form"] = exc.message
        else:
            if signed is None:
                errors["form"] = websessions.WRONG
    if signed is None:
        context = {"next": target, "errors": errors, "email": email}
        status = 429 if "too many" in errors.get("form", "") else 400
        return render(request, "login.html", context, status=status)
    if signed.needs_code:
        response: Response = RedirectResponse(f"/login/code?next={target}", 303)
        _set_cookie(request, response, PENDING, signed.cookie)
        return response
    response = RedirectResponse(target, 303)
    _set_cookie(request, response, COOKIE, signed.cookie)
    return response


@router.get("/login/code")
def code_page(request: Request, next: str | None = None) -> Response:
    app = web(request)
    with app.db() as s:
        csrf = websessions.csrf_for(s, request.cookies.get(PENDING), app.now())
    if csrf is None:
        return RedirectResponse("/login", 303)
    request.state.csrf = csrf
    return render(request, "code.html", {"next": safe_next(next), "errors": {}})


@router.post("/login/code")
def code(
    request: Request,
    code: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/today",
) -> Response:
    app = web(request)
    pending = request.cookies.get(PENDING)
    with app.db() as s:
        expected = websessions.csrf_for(s, pending, app.now())
    if expected is None or pending is None:
        return RedirectResponse("/login", 303)
    if not websessions.same_token(expected, csrf):
        raise Forbidden("the form has expired or did not come from this app: reload the page")
    try:
        with app.db() as s:
            signed = websessions.confirm_code(
                s, pending, code, key=app.key, client=client_of(request), now=app.now()
            )
    except websessions.TooManyAttempts as exc:
        request.state.csrf = expected
        context = {"next": safe_next(next), "errors": {"code": exc.message}}
        return render(request, "code.html", context, status=429)
    if signed is None:
        request.state.csrf = expected
        context = {"next": safe_next(next), "errors": {"code": "that code is not right"}}
        return render(request, "code.html", context, status=400)
    response = RedirectResponse(safe_next(next), 303)
    response.delete_cookie(PENDING, path="/")
    _set_cookie(request, response, COOKIE, signed.cookie)
    return response


@router.post("/logout")
def logout(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    app = web(request)
    with app.db() as s:
        websessions.sign_out(s, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(websessions.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
