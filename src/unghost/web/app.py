"""The web app and JSON API (`unghost serve`): `create_app(settings)`.

Server-rendered Jinja2 pages with a little JavaScript (web/static/app.js), and a JSON API
under /api/ described by /api/openapi.json. Both call the same library functions as the
CLI (services/). Every error is one shape: a page for people, and for /api/
`{"error": "…", "status": N}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from unghost.errors import UnghostError
from unghost.settings import Settings
from unghost.store.db import make_engine
from unghost.web import (
    api,
    auth,
    pages,
    pages_deals,
    pages_playbook,
    pages_replies,
    pages_reports,
    pages_settings,
    unsubscribe,
)
from unghost.web.context import Clock, NotSignedIn, Web, now_utc
from unghost.web.render import render

STATIC = Path(__file__).parent / "static"

# Pages may load only their own scripts, styles and images; nothing may frame them.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    """The ASGI app for these settings. `clock` fixes "now" (tests, demos)."""
    app = FastAPI(
        title="unghost",
        summary="Keeps stalled sales conversations alive.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = Web(settings, engine or make_engine(settings), clock or now_utc)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(auth.router)
    app.include_router(unsubscribe.router)
    app.include_router(pages.router)
    for module in (pages_deals, pages_playbook, pages_replies, pages_reports, pages_settings):
        app.include_router(module.api)
        app.include_router(module.router)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/") or "text/html" in response.headers.get(
            "content-type", ""
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(UnghostError)
    async def unghost_error(request: Request, exc: UnghostError) -> Response:
        return _error(request, exc.message, exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such page"
        return _error(request, message, exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, validation_message(exc), 422)

    return app


def validation_message(exc: RequestValidationError) -> str:
    """One line naming the first bad field, in words."""
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'request'}: {first.get('msg', 'not valid')}".replace("\n", " ")


def _error(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message, "status": status}, status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", 303)
    return render(request, "error.html", {"message": message, "status": status}, status=status)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


__all__ = ["NotSignedIn", "create_app"]
