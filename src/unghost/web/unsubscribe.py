"""`/u/{token}`: the `List-Unsubscribe` link (RFC 2369) with one-click POST (RFC 8058).

No sign-in: the signed token is the authority. GET shows a page with one button (mail
scanners follow links, so a GET never unsubscribes); POST records do-not-contact at once,
cancels the contact's open steps, and answers the same however often it is repeated.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from unghost.errors import BadInput
from unghost.services.unsubscribe import read_token, unsubscribe_contact
from unghost.web.context import web
from unghost.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/u/{token}")
def confirm(request: Request, token: str) -> Response:
    app = web(request)
    try:
        read_token(token, app.key)
    except BadInput:
        return render(request, "unsubscribe.html", {"state": "bad"}, status=404)
    return render(request, "unsubscribe.html", {"state": "ask", "token": token})


@router.post("/u/{token}")
def unsubscribe(request: Request, token: str) -> Response:
    app = web(request)
    try:
        contact_id, owner_id = read_token(token, app.key)
    except BadInput:
        return render(request, "unsubscribe.html", {"state": "bad"}, status=404)
    with app.db() as s:
        unsubscribe_contact(s, contact_id, owner_id, app.now(), playbook=app.playbook)
    return render(request, "unsubscribe.html", {"state": "done"})
