"""Staff accounts: creation, argon2 passwords, login, password changes, deactivation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries, staff_audit
from services.campaigns.auth import Role, check_role
from services.campaigns.errors import N_, Conflict, InvalidInput, LoginRefused, NotFound
from shared.languages import LANGUAGES

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024
_HASHER: Final = PasswordHasher()
# Verified against when the address is unknown, so a wrong address costs as long as a wrong
# password and timing does not tell which addresses exist.
_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffAccount:
    """A staff user as the app and the permission check see it."""

    id: int
    email: str
    name: str
    role: Role
    active: bool
    must_change_password: bool
    # The staff app's language this user chose; None follows the browser.
    language: str | None = None


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` in argon2's encoded form."""
    return _HASHER.hash(password)


def check_password(password: str) -> str:
    """Return ``password`` if it is long enough to keep; else raise InvalidInput."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("password too short"),
            {"password": f"must be at least {MIN_PASSWORD_LENGTH} characters"},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(N_("password too long"), {"password": "is too long"})
    return password


def one_time_password() -> str:
    """A random password for a new account or a reset, to be changed at first login."""
    return secrets.token_urlsafe(12)


def _check_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise InvalidInput(N_("invalid email"), {"email": "is not an email address"})
    return email


def _account(row: object) -> StaffAccount:
    values = dict(row)  # type: ignore[call-overload]
    return StaffAccount(
        id=int(values["id"]),
        email=str(values["email"]),
        name=str(values["name"]),
        role=check_role(str(values["role"])),
        active=bool(values["active"]),
        must_change_password=bool(values["must_change_password"]),
        language=str(values["language"]) if values.get("language") else None,
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def create_user(
    session: AsyncSession, email: str, role: str, name: str = "", password: str | None = None
) -> tuple[StaffAccount, str | None]:
    """Create a staff user; without ``password`` return a one-time password to hand over."""
    checked_email, checked_role = await _check_new_user(session, email, role, name)
    one_time = None if password is not None else one_time_password()
    secret = check_password(password) if password is not None else one_time
    assert secret is not None
    user_id = await queries.insert_staff_user(
        session,
        email=checked_email,
        name=name,
        role=checked_role,
        password_hash=hash_password(secret),
        must_change_password=one_time is not None,
        now=_now(),
    )
    await session.commit()
    return await get_user(session, user_id), one_time


async def add_user(session: AsyncSession, email: str, role: str, name: str = "") -> StaffAccount:
    """Create a staff user without a password, in the caller's transaction (an invitation)."""
    checked_email, checked_role = await _check_new_user(session, email, role, name)
    user_id = await queries.insert_staff_user(
        session, checked_email, name, checked_role, now=_now()
    )
    return await get_user(session, user_id)


async def _check_new_user(
    session: AsyncSession, email: str, role: str, name: str
) -> tuple[str, Role]:
    checked_email = _check_email(email)
    checked_role = check_role(role)
    if len(name) > 200:
        raise InvalidInput("name too long", {"name": "must be at most 200 characters"})
    if await queries.staff_user_by_email(session, checked_email) is not None:
        raise Conflict(N_("a staff user with this email already exists"))
    return checked_email, checked_role


async def get_user(session: AsyncSession, user_id: int) -> StaffAccount:
    """The staff user with this id; raise NotFound otherwise."""
    row = (
        await queries.staff_user_by_id(session, user_id) if 0 < user_id <= queries.MAX_ID else None
    )
    if row is None:
        raise NotFound("staff user", user_id)
    return _account(row)


async def find_user(session: AsyncSession, email: str) -> StaffAccount:
    """The staff user with this email; raise NotFound otherwise."""
    row = await queries.staff_user_by_email(session, email.strip())
    if row is None:
        raise NotFound("staff user", email)
    return _account(row)


async def has_password(session: AsyncSession, user_id: int) -> bool:
    """True when the user has a password (of their own or one-time)."""
    row = await queries.staff_user_by_id(session, user_id)
    return row is not None and bool(row["password_hash"])


async def list_users(session: AsyncSession) -> list[StaffAccount]:
    """Every staff user, oldest first."""
    return [_account(row) for row in await queries.all_staff_users(session)]


async def verify_login(session: AsyncSession, email: str, password: str) -> StaffAccount:
    """The active account with this email and password; raise LoginRefused otherwise."""
    row = await queries.staff_user_by_email(session, email.strip())
    stored = str(row["password_hash"]) if row is not None and row["password_hash"] else None
    try:
        _HASHER.verify(stored or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        raise LoginRefused(N_("wrong email or password")) from None
    if row is None or stored is None or not row["active"]:
        raise LoginRefused(N_("wrong email or password"))
    values: dict[str, object] = {"last_login_at": _now()}
    if _HASHER.check_needs_rehash(stored):
        values["password_hash"] = hash_password(password)
    await queries.update_staff_user(session, int(row["id"]), **values)
    await session.commit()
    return _account(row)


async def set_password(
    session: AsyncSession, user_id: int, password: str, *, one_time: bool = False
) -> None:
    """Give a user a new password; ``one_time`` makes them change it at next login."""
    hashed = hash_password(check_password(password) if not one_time else password)
    if not await queries.update_staff_user(
        session, user_id, password_hash=hashed, must_change_password=one_time
    ):
        raise NotFound("staff user", user_id)
    await session.commit()


async def reset_password(session: AsyncSession, email: str) -> str:
    """Replace a user's password by a one-time password and return it."""
    account = await find_user(session, email)
    password = one_time_password()
    await set_password(session, account.id, password, one_time=True)
    return password


async def change_role(
    session: AsyncSession, user_id: int, role: str, actor: str = staff_audit.SYSTEM
) -> StaffAccount:
    """Give a user another role, recorded in the staff audit trail as done by ``actor``."""
    if not await queries.update_staff_user(session, user_id, role=check_role(role)):
        raise NotFound("staff user", user_id)
    await staff_audit.record(session, actor, "user.role_change", f"user:{user_id}", {"role": role})
    await session.commit()
    return await get_user(session, user_id)


async def set_active(
    session: AsyncSession, user_id: int, active: bool, actor: str = staff_audit.SYSTEM
) -> StaffAccount:
    """Deactivate (or reactivate) a user; a deactivated user's sessions and tokens stop."""
    if not await queries.update_staff_user(session, user_id, active=active):
        raise NotFound("staff user", user_id)
    action = "user.reactivate" if active else "user.deactivate"
    await staff_audit.record(session, actor, action, f"user:{user_id}")
    await session.commit()
    return await get_user(session, user_id)


async def set_language(session: AsyncSession, user_id: int, language: str | None) -> StaffAccount:
    """Keep the staff app's language for a user (da, sv, en; None: follow the browser)."""
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            N_("unknown language"), {"language": f"must be one of {', '.join(LANGUAGES)} or null"}
        )
    if not await queries.update_staff_user(session, user_id, language=language):
        raise NotFound("staff user", user_id)
    await session.commit()
    return await get_user(session, user_id)


async def update_user(
    session: AsyncSession,
    user_id: int,
    *,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
) -> StaffAccount:
    """Change a user's role and/or active flag, each change audited as done by ``actor``."""
    account = await get_user(session, user_id)
    if role is not None and role != account.role:
        account = await change_role(session, user_id, role, actor)
    if active is not None and active != account.active:
        account = await set_active(session, user_id, active, actor)
    return account
