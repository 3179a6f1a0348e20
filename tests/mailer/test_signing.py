"""DKIM: campaign and transactional mail signed by the real worker, verified with dkimpy."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sys
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from services.mailer.config import MailerOptions
from services.mailer.signing import DkimSigner
from services.mailer.worker import run_worker
from shared.contracts import OutboundMail
from shared.errors import SettingsError
from shared.jobs import create_job_pool, enqueue
from shared.queues import SEND_TRANSACTIONAL, TRANSACTIONAL_QUEUE
from shared.settings import Settings
from tests.conftest import TEST_SECRET
from tests.mailer.seed import Person, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer

DOMAIN, SELECTOR = "kultur.test", "brev2026"


@pytest.fixture(scope="module")
def key_pem() -> bytes:
    """A throwaway 2048-bit RSA key in PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _dns(key_pem: bytes) -> object:
    """A resolver that knows only our selector's TXT record."""
    record = DkimSigner.from_pem(DOMAIN, SELECTOR, key_pem).public_record()
    wanted = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == wanted else None

    return lookup


def _tags(data: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?! )", data, re.S | re.M)
    assert header is not None
    unfolded = re.sub(rb"\s+", b"", header.group(1)).decode()
    return dict(part.split("=", 1) for part in unfolded.split(";") if part)


async def test_campaign_and_transactional_mail_verify(
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
    tmp_path: Path,
    key_pem: bytes,
) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(key_pem)
    options = dataclasses.replace(
        FAST, dkim_domain=DOMAIN, dkim_selector=SELECTOR, dkim_key_file=str(key_file)
    )
    people = [Person(f"p{n}@example.dk", f"Åse {n}", "da", {"kultur": "confirmed"}) for n in (1, 2)]
    campaign_id, _ids = await seed(settings.database_url, people, campaign_lists_=("kultur",))
    await enqueue_start(settings, campaign_id)
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    mail = OutboundMail(
        message_key="confirm:dkim",
        category="confirm",
        to="ase@example.dk",
        subject="Bekræft din tilmelding",
        text="Bekræft her: http://subscriptions.test/confirm/abc",
    )
    await enqueue(pool, SEND_TRANSACTIONAL, mail)
    await pool.aclose()
    await run_worker(settings, burst=True, options=options)

    dns = _dns(key_pem)
    messages = smtp_server.messages
    assert len(messages) == 3
    for received in messages:
        assert dkim.verify(received.data, dnsfunc=dns), received.data[:600]
        tags = _tags(received.data)
        assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
            "rsa-sha256",
            "relaxed/relaxed",
            DOMAIN,
            SELECTOR,
        )
        signed = tags["h"].split(":")
        for name in ("from", "to", "subject", "date", "message-id", "list-id", "mime-version"):
            assert name in signed
        assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed
        assert "content-type" in signed

    campaign_mail = next(m.data for m in messages if b"List-Unsubscribe:" in m.data)
    # A changed unsubscribe link (or a second one added above ours) breaks the signature.
    altered = re.sub(rb"(List-Unsubscribe: <[^>]*)>", rb"\1x>", campaign_mail)
    assert altered != campaign_mail
    assert not dkim.verify(altered, dnsfunc=dns)
    injected = campaign_mail.replace(
        b"List-Unsubscribe:", b"List-Unsubscribe: <https://evil.test/u>\r\nList-Unsubscribe:", 1
    )
    assert not dkim.verify(injected, dnsfunc=dns)
    assert not dkim.verify(campaign_mail.replace(b"Hej", b"Hei", 1), dnsfunc=dns)


def test_dkim_settings_need_all_three_and_a_usable_key(tmp_path: Path, key_pem: bytes) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(key_pem)
    env = {
        "BREVDUE_MAILER_DKIM_DOMAIN": DOMAIN,
        "BREVDUE_MAILER_DKIM_SELECTOR": SELECTOR,
        "BREVDUE_MAILER_DKIM_KEY_FILE": str(key_file),
    }
    assert MailerOptions.from_env(env).dkim_domain == DOMAIN
    assert MailerOptions.from_env({}).dkim_key_file == ""

    with pytest.raises(SettingsError) as missing:
        MailerOptions.from_env({**env, "BREVDUE_MAILER_DKIM_SELECTOR": ""})
    assert missing.value.variable == "BREVDUE_MAILER_DKIM_SELECTOR"

    with pytest.raises(SettingsError) as absent:
        MailerOptions.from_env({**env, "BREVDUE_MAILER_DKIM_KEY_FILE": str(tmp_path / "none")})
    assert absent.value.variable == "BREVDUE_MAILER_DKIM_KEY_FILE"
    assert "cannot be read" in absent.value.reason

    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SettingsError) as garbled:
        MailerOptions.from_env({**env, "BREVDUE_MAILER_DKIM_KEY_FILE": str(bad)})
    assert "usable RSA private key" in garbled.value.reason


async def test_bad_key_file_stops_the_mailer_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key at all\n")
    env = {
        **os.environ,
        "BREVDUE_SECRET_KEYS": TEST_SECRET.reveal(),
        "BREVDUE_MAILER_DKIM_DOMAIN": DOMAIN,
        "BREVDUE_MAILER_DKIM_SELECTOR": SELECTOR,
        "BREVDUE_MAILER_DKIM_KEY_FILE": str(bad),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.mailer",
        "--burst",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "BREVDUE_MAILER_DKIM_KEY_FILE" in lines[0] and "RSA private key" in lines[0]
