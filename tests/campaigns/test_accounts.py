"""Staff accounts: argon2 passwords, login, one-time passwords, deactivation, user tokens."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import accounts, auth, permissions
from services.campaigns.admin import create_user, demo_admin_login, reset_password, seed_demo
from services.campaigns.errors import (
    Conflict,
    InvalidInput,
    LoginRefused,
    NotAuthenticated,
    PermissionDenied,
)
from shared.db import create_sessionmaker
from shared.schema import api_tokens, staff_users
from shared.settings import Settings
from tests.campaigns.conftest import Api

PASSWORD = "korrekt hest batteri"


async def test_password_is_stored_as_argon2_hash(settings: Settings, db: AsyncEngine) -> None:
    async with create_sessionmaker(db)() as session:
        account, one_time = await accounts.create_user(
            session, "Editor@Example.dk", "editor", "Ea", password=PASSWORD
        )
    assert one_time is None and not account.must_change_password
    async with db.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(staff_users.c.password_hash).where(staff_users.c.id == account.id)
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_login_checks_password_and_is_case_blind_on_email(db: AsyncEngine) -> None:
    async with create_sessionmaker(db)() as session:
        await accounts.create_user(session, "ea@example.dk", "editor", password=PASSWORD)
        account = await accounts.verify_login(session, "EA@example.dk ", PASSWORD)
        assert account.role == "editor" and account.email == "ea@example.dk"
        with pytest.raises(LoginRefused) as wrong:
            await accounts.verify_login(session, "ea@example.dk", PASSWORD + "x")
        with pytest.raises(LoginRefused) as unknown:
            await accounts.verify_login(session, "nobody@example.dk", PASSWORD)
    # One message for both, so the form tells nobody which addresses are staff.
    assert wrong.value.message == unknown.value.message


async def test_deactivated_user_cannot_log_in(db: AsyncEngine) -> None:
    async with create_sessionmaker(db)() as session:
        account, _ = await accounts.create_user(
            session, "v@example.dk", "viewer", password=PASSWORD
        )
        await accounts.set_active(session, account.id, False)
        with pytest.raises(LoginRefused):
            await accounts.verify_login(session, "v@example.dk", PASSWORD)


async def test_rules_for_new_users(db: AsyncEngine) -> None:
    async with create_sessionmaker(db)() as session:
        with pytest.raises(InvalidInput) as short:
            await accounts.create_user(session, "a@example.dk", "admin", password="kort")
        assert "password" in short.value.errors
        with pytest.raises(InvalidInput) as role:
            await accounts.create_user(session, "a@example.dk", "root")
        assert "role" in role.value.errors
        with pytest.raises(InvalidInput) as email:
            await accounts.create_user(session, "not an address", "admin")
        assert "email" in email.value.errors
        await accounts.create_user(session, "a@example.dk", "admin")
        with pytest.raises(Conflict):
            await accounts.create_user(session, "A@example.dk", "viewer")


async def test_operator_reset_gives_a_one_time_password(
    settings: Settings, db: AsyncEngine
) -> None:
    account, first = await create_user(settings, "op@example.dk", "admin", "Op")
    assert account.must_change_password
    second = await reset_password(settings, "op@example.dk")
    assert second != first
    async with create_sessionmaker(db)() as session:
        with pytest.raises(LoginRefused):
            await accounts.verify_login(session, "op@example.dk", first)
        signed_in = await accounts.verify_login(session, "op@example.dk", second)
        assert signed_in.must_change_password
        # Until the password is changed, the account may do nothing but change it.
        with pytest.raises(PermissionDenied):
            permissions.check(signed_in, "viewer")
        await accounts.set_password(session, account.id, PASSWORD)
        changed = await accounts.verify_login(session, "op@example.dk", PASSWORD)
    assert permissions.check(changed, "admin") == changed


async def test_demo_admin_gets_a_one_time_password_until_it_sets_its_own(
    settings: Settings, db: AsyncEngine
) -> None:
    await seed_demo(settings)
    first = await demo_admin_login(settings)
    assert first is not None
    again = await demo_admin_login(settings)
    assert again is not None and again != first
    async with create_sessionmaker(db)() as session:
        account = await accounts.verify_login(session, "admin@brevdue.local", again)
        assert account.must_change_password and account.role == "admin"
        await accounts.set_password(session, account.id, PASSWORD)
    assert await demo_admin_login(settings) is None


async def test_one_check_for_sessions_and_tokens(db: AsyncEngine) -> None:
    async with create_sessionmaker(db)() as session:
        editor, _ = await accounts.create_user(session, "e@example.dk", "editor", password=PASSWORD)
        token = await auth.authenticate(
            session, await auth.issue_token(session, "editor", "e", staff_user_id=editor.id)
        )
    for caller in (editor, token):
        assert permissions.check(caller, "editor") is caller
        with pytest.raises(PermissionDenied):
            permissions.check(caller, "admin")
    with pytest.raises(NotAuthenticated):
        permissions.check(None, "viewer")
    assert permissions.actor(editor) == f"user:{editor.id}"
    assert permissions.actor(token) == f"token:{token.id}"


async def test_deactivating_a_user_stops_its_tokens_at_once(
    api: Api, settings: Settings, db: AsyncEngine
) -> None:
    async with create_sessionmaker(db)() as session:
        user, _ = await accounts.create_user(session, "t@example.dk", "editor", password=PASSWORD)
        token = await auth.issue_token(session, "editor", "laptop", staff_user_id=user.id)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/lists", headers=headers)).status_code == 200
    async with db.connect() as conn:
        used = (
            await conn.execute(
                sa.select(api_tokens.c.last_used_at).where(api_tokens.c.staff_user_id == user.id)
            )
        ).scalar_one()
    assert used is not None
    async with create_sessionmaker(db)() as session:
        await accounts.set_active(session, user.id, False)
    refused = await api.client.get("/api/lists", headers=headers)
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["error"]
