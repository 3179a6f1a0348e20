"""Development defaults of ``brevdue run`` and the saved secret key."""

from __future__ import annotations

from pathlib import Path

import pytest

from brevdue_cli.config import dev_environment, ensure_dev_secret, env_with_secret, load_settings
from brevdue_cli.main import run_port
from shared.errors import SettingsError


def test_dev_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    var = tmp_path / "var"
    key = ensure_dev_secret(var)
    assert len(key) >= 32
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
    assert ensure_dev_secret(var) == key


def test_dev_environment_fills_only_what_is_unset(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = dev_environment(
        {"BREVDUE_DATABASE_URL": "postgresql+asyncpg://u@db/brevdue", "HOME": "/home/x"},
        var,
        subscriptions_port=9001,
        campaigns_port=9002,
    )
    assert env["BREVDUE_DATABASE_URL"] == "postgresql+asyncpg://u@db/brevdue"
    assert env["BREVDUE_SECRET_KEYS"] == (var / "secret_key").read_text().strip()
    assert env["BREVDUE_SUBSCRIPTIONS_PUBLIC_URL"] == "http://127.0.0.1:9001"
    assert env["BREVDUE_CAMPAIGNS_PUBLIC_URL"] == "http://127.0.0.1:9002"
    assert env["HOME"] == "/home/x"
    assert "BREVDUE_REDIS_URL" not in env  # settled by what brevdue run starts

    default_db = dev_environment({}, var, subscriptions_port=1, campaigns_port=2)
    assert default_db["BREVDUE_DATABASE_URL"] == f"sqlite+aiosqlite:///{var / 'brevdue.db'}"


def test_saved_secret_fills_in_only_when_the_variable_is_unset(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert "BREVDUE_SECRET_KEYS" not in env_with_secret({}, var)  # no file: nothing invented
    key = ensure_dev_secret(var)
    assert env_with_secret({}, var)["BREVDUE_SECRET_KEYS"] == key
    explicit = {"BREVDUE_SECRET_KEYS": "x" * 20}
    assert env_with_secret(explicit, var) == explicit
    assert load_settings({}, var).secret_keys[0].reveal() == key


def test_run_ports_from_flag_environment_or_default() -> None:
    assert run_port(None, "RUN_SMTP_PORT", 1025, {}) == 1025
    assert run_port(None, "RUN_SMTP_PORT", 1025, {"BREVDUE_RUN_SMTP_PORT": "2525"}) == 2525
    assert run_port(3535, "RUN_SMTP_PORT", 1025, {"BREVDUE_RUN_SMTP_PORT": "2525"}) == 3535
    with pytest.raises(SettingsError, match="BREVDUE_RUN_SMTP_PORT"):
        run_port(None, "RUN_SMTP_PORT", 1025, {"BREVDUE_RUN_SMTP_PORT": "smtp"})
    with pytest.raises(SettingsError):
        run_port(70000, "RUN_SMTP_PORT", 1025, {})
