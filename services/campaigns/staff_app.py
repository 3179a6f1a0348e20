"""The staff app's sign-in flow: who is signed in, logging in and out, changing the password.

Plain functions over a Redis client and a database session; the page handlers stay thin.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import accounts, sessions, staff_audit, throttle
from services.campaigns.accounts import StaffAccount
from services.campaigns.errors import N_, InvalidInput, LoginRefused, NotAuthenticated


async def signed_in(db: AsyncSession, redis: Redis, session_id: str | None) -> StaffAccount:
    """The active staff user of this session; raise NotAuthenticated when there is none."""
    session = await sessions.load(redis, session_id or "", time.time())
    if session is None:
        raise NotAuthenticated("please log in")
    account = await accounts.get_user(db, session.user_id)
    if not account.active:
        await sessions.end(redis, session.id)
        raise NotAuthenticated("please log in")
    return account


async def log_in(
    db: AsyncSession,
    redis: Redis,
    *,
    email: str,
    password: str,
    client: str,
    previous_session: str | None,
) -> tuple[StaffAccount, str]:
    """Check the password under the throttle; return the account and its new session id."""
    await throttle.check(redis, email, client)
    try:
        account = await accounts.verify_login(db, email, password)
    except LoginRefused:
        await throttle.record_failure(redis, email, client)
        raise
    await throttle.clear(redis, email)
    session_id = await sessions.start(redis, account.id, time.time(), previous=previous_session)
    return account, session_id


async def change_password(
    db: AsyncSession, account: StaffAccount, password: str, repeat: str
) -> None:
    """Replace the user's password by one they chose, typed twice alike."""
    if password != repeat:
        raise InvalidInput(N_("the two passwords differ"), {"repeat": "the two passwords differ"})
    await accounts.set_password(db, account.id, password)
    await staff_audit.record(db, f"user:{account.id}", "user.password_change", f"user:{account.id}")
    await db.commit()
