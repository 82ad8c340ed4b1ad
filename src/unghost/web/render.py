"""Rendering pages: one Jinja2 environment (autoescaped), the layout's common context."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from unghost.web.context import viewer_of, web

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.autoescape = True

NAV = (
    ("today", "/today", "Today"),
    ("deals", "/deals", "Deals"),
    ("replies", "/replies", "Replies"),
    ("playbook", "/playbook", "Playbook"),
    ("reports", "/reports", "Reports"),
    ("settings", "/settings", "Settings"),
)


def _when(value: str | datetime | None, fmt: str = "%a %d %b, %H:%M") -> str:
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime(fmt)


TEMPLATES.env.filters["when"] = _when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    page: str | None = None,
) -> HTMLResponse:
    """The page `template` with the layout's context: the viewer, the nav, the CSRF token."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None and template not in ("login.html", "code.html", "unsubscribe.html"):
        viewer = viewer_of(request)
    full = {
        "viewer": viewer,
        "csrf": viewer.csrf if viewer else getattr(request.state, "csrf", None),
        "nav": NAV,
        "page": page,
        "now": web(request).now(),
    }
    full.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, full, status_code=status)
