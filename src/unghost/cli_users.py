"""The account commands of `unghost`: `user add|list|passwd` and `token create|list|revoke`.

Thin shells over services/users.py. A password comes from the first line of a file or
from a prompt (asked twice), never from a flag's value; it is never printed. A new token
is the only thing `token create` writes to stdout, once; afterwards only its public
prefix is ever shown. `register(app)` adds the commands to the main `unghost` app (cli.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from argon2 import PasswordHasher
from rich.table import Table

from unghost.cli_shell import Shell as _Shell
from unghost.cli_shell import err, out
from unghost.cli_shell import print_json as _print_json
from unghost.cli_shell import shell as _shell
from unghost.errors import BadInput
from unghost.services import users
from unghost.store.db import session_factory, transaction

user_app = typer.Typer(
    help="People who sign in to the web app: add them, list them, change a password.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens for the JSON API (`Authorization: Bearer TOKEN`).",
    no_args_is_help=True,
)


def _hasher(shell: _Shell) -> PasswordHasher:
    return users.password_hasher(shell.settings)


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from this file's first line."),
]


def _password(path: Path | None, email: str) -> str:
    """The password from the file's first line, else asked for twice without echo."""
    if path is None:
        return str(typer.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True))
    try:
        text = path.read_text()
    except OSError as exc:
        raise BadInput(f"--password-file: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"--password-file: {path} is not UTF-8 text") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise BadInput(f"--password-file: the first line of {path} is empty")
    return password


# -- user -------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email; they sign in with it.")],
    name: Annotated[str | None, typer.Option("--name", help="The user's full name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May see and manage the team.")] = False,
    password_file: PasswordFileOpt = None,
) -> None:
    """Create a user (or give a password to one an import created); the password is asked for."""
    shell = _shell(ctx)
    password = _password(password_file, email)
    with transaction(shell.engine) as session:
        existed = users.find_user(session, email) is not None
        user = users.add_user(
            session, email, name=name, admin=admin, password=password, hasher=_hasher(shell)
        )
        address, role = user.email, "admin" if user.is_admin else "member"
    if existed:
        out.print(f"set the password of {address} ({role})", markup=False)
    else:
        out.print(f"added {address} ({role})", markup=False)


@user_app.command("list")
def user_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every user: email, name, role, whether they can sign in."""
    shell = _shell(ctx)
    with session_factory(shell.engine)() as session:
        rows = [
            {
                "email": u.email,
                "name": u.name,
                "admin": u.is_admin,
                "password": u.password_hash is not None,
                "created_at": u.created_at.isoformat(),
            }
            for u in users.list_users(session)
        ]
    if json:
        _print_json({"users": rows})
        return
    if not rows:
        out.print("no users yet: add one with `unghost user add EMAIL`", markup=False)
        return
    table = Table("email", "name", "role", "password", box=None)
    for row in rows:
        table.add_row(
            str(row["email"]),
            str(row["name"]),
            "admin" if row["admin"] else "member",
            "set" if row["password"] else "none (cannot sign in)",
        )
    out.print(table)


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password_file: PasswordFileOpt = None,
) -> None:
    """Change a user's password; it is read from --password-file or asked for twice."""
    shell = _shell(ctx)
    with session_factory(shell.engine)() as session:
        address = users.get_user(session, email).email
    password = _password(password_file, address)
    with transaction(shell.engine) as session:
        users.set_password(session, address, password, hasher=_hasher(shell))
    out.print(f"changed the password of {address}", markup=False)


# -- token ------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[
        str | None, typer.Option("--name", help="What the token is for (a script, a laptop).")
    ] = None,
) -> None:
    """Print a new API token for the user, once: it cannot be shown again."""
    shell = _shell(ctx)
    with transaction(shell.engine) as session:
        token = users.create_token(session, email, name=name)
        address = users.get_user(session, email).email
    sys.stdout.write(token + "\n")
    prefix = token[: users.PREFIX_LEN]
    err.print(
        f"a token for {address}, shown this once; revoke it with `unghost token revoke {prefix}`",
        markup=False,
    )


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    json: JsonOpt = False,
) -> None:
    """Live API tokens by their public prefix (the tokens themselves are not kept)."""
    shell = _shell(ctx)
    with session_factory(shell.engine)() as session:
        rows = [
            {
                "prefix": t.prefix,
                "user": u.email,
                "name": t.name,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t, u in users.list_tokens(session, email)
        ]
    if json:
        _print_json({"tokens": rows})
        return
    if not rows:
        out.print("no live tokens", markup=False)
        return
    table = Table("prefix", "user", "name", "created", "last used", box=None)
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in row))
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="The token's prefix (ug_ and 8 characters).")],
) -> None:
    """Revoke an API token: requests with it are refused from now on."""
    shell = _shell(ctx)
    with transaction(shell.engine) as session:
        token = users.revoke_token(session, prefix)
        shown = token.prefix
    out.print(f"revoked {shown}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the `user` and `token` commands to the `unghost` app (a no-op if already there)."""
    groups = {g.name for g in app.registered_groups}
    if "user" not in groups:
        app.add_typer(user_app, name="user")
    if "token" not in groups:
        app.add_typer(token_app, name="token")
