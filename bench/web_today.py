"""How fast the web app answers *Today* for an owner with 5,000 open deals.

    .venv/bin/python bench/web_today.py [--deals 5000] [--clients 20] [--requests 2000]
                                        [--seconds 30]

A generated workspace (bench/generate.py) is imported into SQLite and planned once; the app
(`unghost serve`'s, with the clock fixed at the workspace's Monday morning) runs under
uvicorn in its own process on a free port of 127.0.0.1; `--clients` concurrent clients
(asyncio, httpx2), each signed in with its own session (the page) or API token (the API),
ask for *Today* again and again until `--requests` answers or `--seconds`, whichever comes
first. Printed for each: the median and p95 latency and requests/s. The baseline, measured
the same way against the same server, is the static stylesheet (/static/app.css): what
the server, the HTTP stack and the clients cost before any page is made.
Target (issue 5): *Today* answers in under 100 ms at the median. Of the ~4,000 items due,
the page shows the first 25 and the API is asked for pages of 50 (`?limit=50`; without a
limit it answers every item, as `unghost today --json` does).
The latency of 20 clients at once is about 20 times the work of one request (closed loop):
on a machine whose cores others share, compare with the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).parent))

from generate import workspace
from unghost.services import agenda, users
from unghost.services import plan as planning
from unghost.services.workspace import import_document
from unghost.settings import Settings
from unghost.store.db import make_engine, transaction

NOW = datetime.fromisoformat("2026-11-23T09:00:00-05:00")
OWNER = "bench@example.com"
PASSWORD = "correct horse battery staple"
TARGET_MS = 100


def settings_for(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder}/web.db", home=folder / "home", fast_hash=True)


def prepare(folder: Path, deals: int) -> None:
    """The workspace, the owner's password, and every deal planned once."""
    engine = make_engine(settings_for(folder))
    start = time.perf_counter()
    import_document(engine, workspace(deals, 8))
    with transaction(engine) as s:
        users.add_user(
            s, OWNER, password=PASSWORD, hasher=users.password_hasher(settings_for(folder))
        )
        owner = users.get_user(s, OWNER).id
    with transaction(engine) as s:
        agenda.today(s, [owner], NOW, playbook=planning.default_playbook())
    print(f"generated, imported and planned {deals:,} open deals in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    engine.dispose()


def serve(folder: Path, port: int) -> None:
    """The child process: the app under uvicorn until it is terminated."""
    import uvicorn

    from unghost.web import create_app

    app = create_app(settings_for(folder), clock=lambda: NOW)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(base: str, server: multiprocessing.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not server.is_alive():
            raise SystemExit("the server did not start")
        try:
            httpx2.get(f"{base}/static/app.css", timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer within 30 s")


@dataclass
class Result:
    what: str
    latencies: list[float]
    seconds: float
    errors: int
    size: int

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        median, p95 = statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]
        return (
            f"{self.what:<22} median {median:7.1f} ms   p95 {p95:7.1f} ms   "
            f"{len(ms) / self.seconds:6.0f} requests/s   ({len(ms):,} answers of "
            f"{self.size / 1024:,.0f} KiB in {self.seconds:.1f} s"
            + (f", {self.errors} errors)" if self.errors else ")")
        )

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


async def load(
    what: str,
    base: str,
    path: str,
    clients: list[httpx2.AsyncClient],
    *,
    requests: int,
    seconds: float,
) -> Result:
    """`len(clients)` clients asking for `path` until `requests` answers or `seconds`."""
    latencies: list[float] = []
    errors = 0
    size = 0
    left = requests
    start = time.perf_counter()
    deadline = start + seconds

    async def one(client: httpx2.AsyncClient) -> None:
        nonlocal left, errors, size
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            sent = time.perf_counter()
            r = await client.get(base + path)
            latencies.append(time.perf_counter() - sent)
            if r.status_code != 200:
                errors += 1
            size = len(r.content)

    await asyncio.gather(*(one(c) for c in clients))
    return Result(what, latencies, time.perf_counter() - start, errors, size)


async def run(base: str, args: argparse.Namespace) -> list[Result]:
    timeout = httpx2.Timeout(60)
    pages = [httpx2.AsyncClient(timeout=timeout) for _ in range(args.clients)]
    apis = [httpx2.AsyncClient(timeout=timeout) for _ in range(args.clients)]
    try:
        for client in pages:  # each its own session
            r = await client.post(f"{base}/login", data={"email": OWNER, "password": PASSWORD})
            assert r.status_code == 303, r.text
        folder_settings = settings_for(args.folder)
        engine = make_engine(folder_settings)
        with transaction(engine) as s:
            tokens = [users.create_token(s, OWNER, name=f"bench {i}") for i in range(len(apis))]
        engine.dispose()
        for client, token in zip(apis, tokens, strict=True):
            client.headers["Authorization"] = f"Bearer {token}"
        # One warm-up round each: templates compiled, the plan read once.
        for client, path in ((pages[0], "/today"), (apis[0], "/api/today")):
            r = await client.get(base + path)
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
        bounds = {"requests": args.requests, "seconds": args.seconds}
        return [
            await load("baseline /static/app.css", base, "/static/app.css", pages, **bounds),
            await load("Today  GET /today", base, "/today", pages, **bounds),
            await load(
                "Today  GET /api/today?limit=50", base, "/api/today?limit=50", apis, **bounds
            ),
        ]
    finally:
        for client in pages + apis:
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        args.folder = Path(tmp)
        prepare(args.folder, args.deals)
        port = free_port()
        server = multiprocessing.get_context("fork").Process(
            target=serve, args=(args.folder, port), daemon=True
        )
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server)
            results = asyncio.run(run(base, args))
        finally:
            server.terminate()
            server.join(10)
    print(f"{args.clients} concurrent clients, uvicorn on loopback, {args.deals:,} open deals")
    for result in results:
        print("  " + result.line())
    for result in results[1:]:
        verdict = "met" if result.median_ms < TARGET_MS else "MISSED"
        print(f"{result.what}: median {result.median_ms:.0f} ms; "
              f"target < {TARGET_MS} ms: {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
