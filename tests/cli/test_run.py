"""``brevdue run`` end to end: a real suite in subprocesses, on free ports, in a temporary dir."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from brevdue_cli.redis_server import free_port
from tests.cli.running import BrevdueRun, alive, clean_env, require_services

READY = "Press Ctrl-C to stop."


def port_args() -> tuple[list[str], dict[str, int]]:
    ports = {name: free_port() for name in ("subscriptions", "campaigns", "smtp", "inbox", "redis")}
    args = ["run", "--ready-timeout", "60"]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    return args, ports


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """``start()`` launches ``brevdue run`` in ``tmp_path``; everything is killed afterwards."""
    require_services()
    runs: list[BrevdueRun] = []

    def launch(**env: str) -> tuple[BrevdueRun, dict[str, int]]:
        args, ports = port_args()
        run = BrevdueRun(args, tmp_path, clean_env(BREVDUE_LOG_LEVEL="WARNING", **env))
        runs.append(run)
        return run, ports

    yield launch
    for run in runs:
        run.kill_everything()


def admin_token(output: str) -> str | None:
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "Admin API token" in line:
            return lines[index + 1].strip()
    return None


def demo_login(output: str) -> tuple[str, str] | None:
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "Staff app login" in line:
            email, _, password = lines[index + 1].strip().partition(" / ")
            return email, password
    return None


def stop_and_check(run: BrevdueRun) -> None:
    children = set(run.seen_children)
    assert len(children) >= 5, children  # redis, catcher, two services, mailer
    run.signal(signal.SIGINT)
    assert run.wait(timeout=45) == 0, run.stderr[-3000:]
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if alive(pid)]


def test_run_serves_everything_stops_cleanly_keeps_data_and_stops_when_a_child_dies(
    start, tmp_path: Path
) -> None:
    run, ports = start()
    run.wait_for(READY)
    out = run.stdout
    subscriptions = f"http://127.0.0.1:{ports['subscriptions']}"
    campaigns = f"http://127.0.0.1:{ports['campaigns']}"
    inbox = f"http://127.0.0.1:{ports['inbox']}"
    for url in (subscriptions, campaigns + "/api", campaigns + "/schema", inbox):
        assert url in out
    assert f"redis://127.0.0.1:{ports['redis']}/0" in out
    assert str(tmp_path / "var" / "brevdue.db") in out
    token = admin_token(out)
    assert token

    with httpx.Client(timeout=10) as http:
        assert http.get(subscriptions + "/health/ready").status_code == 200
        assert http.get(campaigns + "/health/ready").status_code == 200
        assert "Inbox" in http.get(inbox + "/").text
        lists = http.get(campaigns + "/api/lists", headers={"Authorization": f"Bearer {token}"})
        assert lists.status_code == 200, lists.text
        # The demo admin signs in with the printed one-time password and must replace it.
        assert campaigns + "/app/" in out
        login = demo_login(out)
        assert login is not None and login[0] == "admin@brevdue.local"
        form = http.get(campaigns + "/app/login")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
        assert csrf
        signed_in = http.post(
            campaigns + "/app/login",
            data={"email": login[0], "password": login[1], "_csrf_token": csrf.group(1)},
            cookies=form.cookies,
        )
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/app/password"
    Redis.from_url(f"redis://127.0.0.1:{ports['redis']}/0").set("brevdue:test:kept", "yes")
    secret = tmp_path / "var" / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600
    # The token is kept nowhere in plain text, only its first printout.
    assert token not in "".join(
        p.read_text(errors="ignore") for p in (tmp_path / "var").glob("*") if p.is_file()
    )
    stop_and_check(run)

    # Second run: same data, same secret, no new token.
    first_secret = secret.read_text()
    again, ports = start()
    again.wait_for(READY)
    assert admin_token(again.stdout) is None
    assert secret.read_text() == first_secret
    with sqlite3.connect(tmp_path / "var" / "brevdue.db") as db:
        slugs = {row[0] for row in db.execute("SELECT slug FROM mailing_lists")}
        tokens = db.execute("SELECT count(*) FROM api_tokens").fetchone()[0]
    assert {"kultur", "idraet"} <= slugs
    assert tokens == 1
    redis = Redis.from_url(f"redis://127.0.0.1:{ports['redis']}/0")
    assert redis.get("brevdue:test:kept") == b"yes"
    campaigns = f"http://127.0.0.1:{ports['campaigns']}"
    with httpx.Client(timeout=10) as http:
        response = http.get(campaigns + "/api/lists", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

    # A child that dies takes the whole run down with it (one start of the suite serves both
    # checks: starting it is the slow part).
    mailer = next(
        pid
        for pid in again.seen_children
        if b"brevdue_cli\x00mailer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    others = again.seen_children - {mailer}
    os.kill(mailer, signal.SIGKILL)
    assert again.wait(timeout=45) == 1
    assert "mailer worker was killed by SIGKILL" in again.stderr
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in others) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in others if alive(pid)]


def test_run_refuses_an_unreachable_redis(start) -> None:
    run, _ports = start(BREVDUE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert run.wait(timeout=30) == 2
    assert run.stderr.strip().splitlines() == [
        "brevdue: BREVDUE_REDIS_URL does not answer (is that Redis running?)"
    ]
