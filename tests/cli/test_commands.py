"""The one-shot ``brevdue`` commands, run as real subprocesses."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port, start_local_redis
from shared.queues import (
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_SUBSCRIPTIONS,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
)
from tests.cli.running import brevdue, clean_env, require_services

SECRET = "a-secret-key-for-cli-tests-0123456789"


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["migrate"], "BREVDUE_SECRET_KEYS"),
        (["run"], "BREVDUE_DATABASE_URL"),
        (["token", "create", "--role", "admin"], "BREVDUE_DATABASE_URL"),
        (["mailer", "--check"], "BREVDUE_REDIS_URL"),
        (["serve", "campaigns"], "BREVDUE_LOG_LEVEL"),
    ],
)
def test_settings_error_is_one_line_and_exit_2(
    command: list[str], variable: str, tmp_path: Path
) -> None:
    bad = {
        "BREVDUE_SECRET_KEYS": "short",
        "BREVDUE_DATABASE_URL": "mysql://db/brevdue",
        "BREVDUE_REDIS_URL": "http://localhost",
        "BREVDUE_LOG_LEVEL": "LOUD",
    }
    env = clean_env(BREVDUE_SECRET_KEYS=SECRET)
    env[variable] = bad[variable]
    result = brevdue(*command, cwd=tmp_path, env=env)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"brevdue: {variable} ")
    assert not (tmp_path / "var").exists() or command == ["run"]


def test_bounces_needs_a_port_to_listen_on(tmp_path: Path) -> None:
    result = brevdue("bounces", cwd=tmp_path, env=clean_env(BREVDUE_SECRET_KEYS=SECRET))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "brevdue: BREVDUE_MAILER_BOUNCE_PORT or MAILER_WEBHOOK_PORT must be set for the bounces"
        " process"
    ]


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    result = brevdue("migrate", cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "brevdue: BREVDUE_SECRET_KEYS is required (comma-separated; the last one signs)"
    )


def test_token_and_user_commands_print_the_secret_on_their_last_line(tmp_path: Path) -> None:
    # The token and the staff user commands share one migrated database: each migrate is a
    # process of several seconds.
    require_services()
    env = clean_env(BREVDUE_SECRET_KEYS=SECRET)
    assert brevdue("migrate", cwd=tmp_path, env=env).returncode == 0
    seeded = brevdue("seed", cwd=tmp_path, env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "kultur" in seeded.stdout
    assert "already present" in brevdue("seed", cwd=tmp_path, env=env).stdout

    result = brevdue(
        "token", "create", "--role", "editor", "--label", "cli test", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 20 and " " not in token
    assert "brevdue:" not in token

    bad_role = brevdue("token", "create", "--role", "owner", cwd=tmp_path, env=env)
    assert bad_role.returncode == 2
    assert "invalid choice" in bad_role.stderr

    created = brevdue(
        "user", "create", "--email", "ea@example.dk", "--role", "editor", cwd=tmp_path, env=env
    )
    assert created.returncode == 0, created.stderr
    first = created.stdout.strip().splitlines()[-1]
    assert len(first) >= 12 and " " not in first

    again = brevdue(
        "user", "create", "--email", "EA@example.dk", "--role", "admin", cwd=tmp_path, env=env
    )
    assert again.returncode == 1
    assert again.stderr.strip() == "brevdue: a staff user with this email already exists"

    reset = brevdue("user", "reset-password", "ea@example.dk", cwd=tmp_path, env=env)
    assert reset.returncode == 0, reset.stderr
    second = reset.stdout.strip().splitlines()[-1]
    assert second != first and " " not in second

    unknown = brevdue("user", "reset-password", "nobody@example.dk", cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr and "Traceback" not in unknown.stderr


def test_commands_reuse_the_dev_secret_of_brevdue_run(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text(SECRET + "\n")
    assert brevdue("migrate", cwd=tmp_path, env=clean_env()).returncode == 0
    assert (tmp_path / "var" / "brevdue.db").exists()


@pytest.fixture
def private_redis_url() -> Iterator[str]:
    """A Redis for this test alone: other tests flushing the shared one would race with it."""
    server = start_local_redis(data_dir=None)
    yield server.url
    server.stop()


async def test_mailer_check_reads_the_workers_health_records(
    private_redis_url: str, tmp_path: Path
) -> None:
    redis = Redis.from_url(private_redis_url)
    env = clean_env(BREVDUE_SECRET_KEYS=SECRET, BREVDUE_REDIS_URL=private_redis_url)
    down = brevdue("mailer", "--check", cwd=tmp_path, env=env)
    assert down.returncode == 1
    assert "transactional: no health-check record" in down.stdout

    await redis.set(HEALTH_CHECK_KEY_TRANSACTIONAL, "Nov-27 10:00:00 j_complete=1", ex=30)
    only_tx = brevdue("mailer", "--check", "--queue", "transactional", cwd=tmp_path, env=env)
    assert only_tx.returncode == 0, only_tx.stdout
    assert brevdue("mailer", "--check", cwd=tmp_path, env=env).returncode == 1

    await redis.set(HEALTH_CHECK_KEY_BULK, "Nov-27 10:00:00 j_complete=0", ex=30)
    up = brevdue("mailer", "--check", cwd=tmp_path, env=env)
    assert up.returncode == 0
    assert "bulk: Nov-27 10:00:00 j_complete=0" in up.stdout

    unreachable = clean_env(
        BREVDUE_SECRET_KEYS=SECRET, BREVDUE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    assert brevdue("mailer", "--check", cwd=tmp_path, env=unreachable).returncode == 1
    await redis.aclose()


async def test_subscriptions_worker_check_reads_its_own_record(
    private_redis_url: str, tmp_path: Path
) -> None:
    redis = Redis.from_url(private_redis_url)
    env = clean_env(BREVDUE_SECRET_KEYS=SECRET, BREVDUE_REDIS_URL=private_redis_url)
    await redis.set(HEALTH_CHECK_KEY_BULK, "Nov-27 10:00:00 j_complete=0", ex=30)
    down = brevdue("subscriptions-worker", "--check", cwd=tmp_path, env=env)
    assert down.returncode == 1  # a mailer's record says nothing about this worker
    assert "subscriptions: no health-check record" in down.stdout

    await redis.set(HEALTH_CHECK_KEY_SUBSCRIPTIONS, "Nov-27 10:00:00 j_complete=2", ex=30)
    up = brevdue("subscriptions-worker", "--check", cwd=tmp_path, env=env)
    assert up.returncode == 0, up.stdout
    assert "subscriptions: Nov-27 10:00:00 j_complete=2" in up.stdout
    await redis.aclose()


def test_catcher_command_catches_mail_and_serves_the_inbox(tmp_path: Path) -> None:
    smtp_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "brevdue_cli", "catcher", "--smtp-port", str(smtp_port)]
        + ["--http-port", str(http_port), "--store", str(tmp_path / "mail")],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        inbox = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(inbox + "/api/messages", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "catcher did not start"
                time.sleep(0.1)

        message = EmailMessage()
        message["From"] = "nyhedsbrev@kultur.test"
        message["To"] = "bjorn@example.se"
        message["Subject"] = "Välkommen"
        message.set_content("Hej Björn!")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.send_message(message)

        listing = httpx.get(inbox + "/api/messages", timeout=5).json()
        assert [m["subject"] for m in listing] == ["Välkommen"]
        assert "Välkommen" in httpx.get(inbox + "/", timeout=5).text
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_a_database_that_refuses_or_lacks_the_schema_is_one_line_and_exit_1(
    tmp_path: Path,
) -> None:
    refused = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/brevdue"
    unmigrated = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    for url, reason in ((refused, "Connect call failed"), (unmigrated, "no such table")):
        env = clean_env(BREVDUE_SECRET_KEYS=SECRET, BREVDUE_DATABASE_URL=url)
        result = brevdue("token", "create", "--role", "admin", cwd=tmp_path, env=env)
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("brevdue: cannot connect: ") and reason in lines[0]
