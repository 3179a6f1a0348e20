"""Mailed links that let a staff user set a password: an invitation, or a reset.

A link is signed (``shared.tokens``), expires, and works once: it carries a fingerprint of the
password hash it was issued against, so setting a password (with this link or any other way)
retires every link issued before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, queries, staff_audit
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import N_, InvalidInput, LinkInvalid
from services.campaigns.pages import Renderer
from shared.contracts import OutboundMail
from shared.errors import TokenError
from shared.jobs import JobQueue, enqueue
from shared.queues import SEND_TRANSACTIONAL
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner

INVITE_MAX_AGE: Final = 7 * 24 * 3600
RESET_MAX_AGE: Final = 3600
_PATHS: Final = {Purpose.STAFF_INVITE: "/app/invite/", Purpose.STAFF_RESET: "/app/reset/"}
_MAILS: Final = {Purpose.STAFF_INVITE: "invite", Purpose.STAFF_RESET: "reset"}


@dataclass(frozen=True)
class Mailing:
    """What sending a staff mail needs: the queue, the settings and the page renderer."""

    jobs: JobQueue
    settings: Settings
    pages: Renderer
    lang: str


def _signer(settings: Settings) -> TokenSigner:
    return TokenSigner(
        settings.secret_keys,
        {Purpose.STAFF_INVITE: INVITE_MAX_AGE, Purpose.STAFF_RESET: RESET_MAX_AGE},
    )


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


async def _send(session: AsyncSession, mailing: Mailing, purpose: Purpose, user_id: int) -> None:
    row = await queries.staff_user_by_id(session, user_id)
    assert row is not None
    token = _signer(mailing.settings).sign(
        purpose, {"u": user_id, "p": _fingerprint(row["password_hash"])}
    )
    link = mailing.settings.campaigns_public_url.rstrip("/") + _PATHS[purpose] + token
    name = _MAILS[purpose]
    text = mailing.pages.render(f"app/mail/{name}.txt", mailing.lang, link=link)
    subject, _, body = text.partition("\n")
    mail = OutboundMail(
        message_key=f"staff-{name}:{user_id}:{uuid4().hex}",
        category="staff",
        to=str(row["email"]),
        subject=subject.strip(),
        text=body.lstrip("\n"),
    )
    await enqueue(mailing.jobs, SEND_TRANSACTIONAL, mail)


async def invite(
    session: AsyncSession, mailing: Mailing, actor: str, *, email: str, role: str, name: str = ""
) -> StaffAccount:
    """Create a staff user without a password and mail them a link to choose one."""
    account = await accounts.add_user(session, email, role, name)
    await staff_audit.record(session, actor, "user.invite", f"user:{account.id}", {"role": role})
    # Enqueued before the commit: without the mail there is no account to speak of.
    await _send(session, mailing, Purpose.STAFF_INVITE, account.id)
    await session.commit()
    return account


async def request_reset(session: AsyncSession, mailing: Mailing, email: str) -> None:
    """Mail a reset link to the active staff user with this address; nothing for others."""
    row = await queries.staff_user_by_email(session, email.strip()[:320])
    if row is None or not row["active"]:
        return
    await _send(session, mailing, Purpose.STAFF_RESET, int(row["id"]))


async def account_of(session: AsyncSession, settings: Settings, kind: str, token: str) -> int:
    """The id of the active user a live link of ``kind`` (invite, reset) names; else LinkInvalid."""
    purpose = Purpose.STAFF_INVITE if kind == "invite" else Purpose.STAFF_RESET
    try:
        payload = _signer(settings).verify(purpose, token[:1000])
        user_id, fingerprint = int(payload["u"]), str(payload["p"])
    except (TokenError, TypeError, KeyError, ValueError):
        raise LinkInvalid(N_("this link is not valid or has expired")) from None
    row = await queries.staff_user_by_id(session, user_id)
    if row is None or not row["active"] or _fingerprint(row["password_hash"]) != fingerprint:
        raise LinkInvalid(N_("this link is not valid or has expired"))
    return user_id


async def set_password(
    session: AsyncSession,
    settings: Settings,
    kind: str,
    token: str,
    *,
    password: str,
    repeat: str,
) -> int:
    """Set the password a live link allows, which retires the link; return the user id."""
    user_id = await account_of(session, settings, kind, token)
    if password != repeat:
        raise InvalidInput(N_("the two passwords differ"), {"repeat": "the two passwords differ"})
    await accounts.set_password(session, user_id, password)
    await staff_audit.record(session, f"user:{user_id}", f"user.password_{kind}", f"user:{user_id}")
    await session.commit()
    return user_id
