"""`unghost serve`: refuses to start when nobody could sign in; serves the app on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

from helpers import CliResult
from servers import free_port
from unghost.services import users
from unghost.settings import Settings
from unghost.store.db import make_engine, transaction


def test_serve_refuses_when_nobody_can_sign_in(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/u.db"
    result = cli("--db", db, "serve")
    assert result.code == 2
    assert "nobody can sign in yet" in result.err
    assert "unghost user add" in result.err


def test_serve_prints_its_url_and_serves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = f"sqlite:///{tmp_path}/u.db"
    settings = Settings(database_url=db, home=home, fast_hash=True)
    engine = make_engine(settings)
    with transaction(engine) as s:
        users.add_user(s, "me@example.com", password="a long enough password",
                       hasher=users.password_hasher(settings))  # fmt: skip
    engine.dispose()
    port = free_port()
    env = {**os.environ, "UNGHOST_HOME": str(home), "UNGHOST_DB": db}
    with subprocess.Popen(
        [sys.executable, "-m", "unghost", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        _check(proc, port)


def _check(proc: subprocess.Popen[str], port: int) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx2.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert r.status_code == 200
        assert "Sign in to unghost" in r.text
        assert r.headers["x-frame-options"] == "DENY"
    finally:
        proc.terminate()
        proc.wait(10)


def test_templates_saved_by_the_web_app_are_the_cli_and_workers_playbook(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert Settings.load({"UNGHOST_HOME": str(home)}).playbook_dir is None
    (home / "playbook").mkdir(parents=True)
    assert Settings.load({"UNGHOST_HOME": str(home)}).playbook_dir == home / "playbook"
    other = tmp_path / "mine"
    other.mkdir()
    env = {"UNGHOST_HOME": str(home), "UNGHOST_PLAYBOOK": str(other)}
    assert Settings.load(env).playbook_dir == other  # the setting wins
