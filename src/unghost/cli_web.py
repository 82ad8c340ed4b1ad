"""`unghost serve`: the web app and JSON API on one address."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from sqlalchemy import func, select

from unghost.cli_shell import err, out, shell
from unghost.errors import BadInput
from unghost.store import models as m


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8040,
) -> None:
    """Run the web app and JSON API (Ctrl-C stops it)."""
    from unghost.web import create_app

    c = shell(ctx)
    with c.write() as session:
        users = session.scalar(select(func.count()).select_from(m.User)) or 0
        signable = session.scalar(
            select(func.count()).select_from(m.User).where(m.User.password_hash.is_not(None))
        )
    if not signable:
        hint = "add one" if not users else "give one a password"
        raise BadInput(
            f"nobody can sign in yet: {hint} with `unghost user add EMAIL` "
            "(or `unghost user passwd EMAIL`)"
        )
    app = create_app(c.settings, engine=c.engine)
    shown = f"[{host}]" if ":" in host else host
    out.print(f"unghost is serving on http://{shown}:{port}/ (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print("note: put it behind HTTPS (a reverse proxy) before others use it")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


def register(app: typer.Typer) -> None:
    """Add `serve` to the `unghost` app."""
    app.command("serve")(serve)
