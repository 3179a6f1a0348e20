"""The bounces process as operators run it: ``python -m services.mailer.bounces_service``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiosmtplib
import httpx
import pytest

from brevdue_cli.redis_server import free_port
from shared.settings import Settings
from tests.conftest import TEST_SECRET


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "BREVDUE_DATABASE_URL": settings.database_url,
        "BREVDUE_REDIS_URL": settings.redis_url,
        "BREVDUE_SECRET_KEYS": TEST_SECRET.reveal(),
        "BREVDUE_LOG_LEVEL": "WARNING",
        **extra,
    }


async def test_serves_smtp_and_webhooks_and_stops_on_sigterm(settings: Settings) -> None:
    smtp_port, http_port = free_port(), free_port()
    env = _env(
        settings,
        BREVDUE_MAILER_BOUNCE_PORT=str(smtp_port),
        BREVDUE_MAILER_WEBHOOK_PORT=str(http_port),
        BREVDUE_MAILER_WEBHOOK_MAILGUN_SIGNING_KEY="key-for-this-test",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.mailer.bounces_service", env=env
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            for _ in range(500):
                try:
                    if (await http.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            assert (await http.get("/health/ready")).status_code == 200
            assert (await http.post("/webhooks/mailgun", content=b"{}")).status_code == 400
            assert (await http.post("/webhooks/postmark", content=b"{}")).status_code == 404
        # The SMTP listener refuses addresses that are not signed return paths.
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await aiosmtplib.send(
                b"Subject: x\r\n\r\nx\r\n",
                sender="mailer-daemon@mx.example",
                recipients=["someone@bounce.kultur.test"],
                hostname="127.0.0.1",
                port=smtp_port,
            )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# Refused with the settings, before any connection: one database is enough.
@pytest.mark.one_database
async def test_refuses_to_start_without_a_port_or_with_a_bad_key(settings: Settings) -> None:
    for extra in (
        {},
        {"BREVDUE_MAILER_WEBHOOK_PORT": "8099", "BREVDUE_MAILER_WEBHOOK_SENDGRID_PUBLIC_KEY": "x"},
        {"BREVDUE_MAILER_WEBHOOK_PORT": "8099", "BREVDUE_MAILER_WEBHOOK_POSTMARK_USER": "u"},
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.mailer.bounces_service",
            env=_env(settings, **extra),
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 2, err
        assert err.decode().startswith("brevdue bounces: ")
