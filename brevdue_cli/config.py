"""Settings for the command line: the environment, plus development defaults for ``brevdue run``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from shared.settings import PREFIX, Settings

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
TOKEN_MARKER_FILE = "admin_token_printed"  # noqa: S105 - a file name


def var_dir(path: str | os.PathLike[str] = "var") -> Path:
    """The directory holding local state (database, Redis files, dev secret), made absolute."""
    return Path(path).resolve()


def read_dev_secret(var: Path) -> str | None:
    """The development secret key saved by an earlier ``brevdue run``, if any."""
    try:
        value = (var / SECRET_KEY_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_dev_secret(var: Path) -> str:
    """Read the development secret key, creating it (owner-only permissions) on first use."""
    existing = read_dev_secret(var)
    if existing:
        return existing
    var.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path = var / SECRET_KEY_FILE
    # Created with 0600 from the start so the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def env_with_secret(environ: Mapping[str, str], var: Path) -> dict[str, str]:
    """The environment, with the saved development secret filling an unset BREVDUE_SECRET_KEYS.

    Lets ``brevdue token create`` and friends work next to a ``brevdue run`` without exporting
    anything; a missing file changes nothing, so production still fails loudly.
    """
    env = dict(environ)
    if not env.get(PREFIX + "SECRET_KEYS", "").strip():
        saved = read_dev_secret(var)
        if saved:
            env[PREFIX + "SECRET_KEYS"] = saved
    return env


def load_settings(environ: Mapping[str, str] | None = None, var: Path | None = None) -> Settings:
    """Settings from the environment (SettingsError when something is wrong)."""
    env = os.environ if environ is None else environ
    return Settings.from_env(env_with_secret(env, var or var_dir()))


def dev_environment(
    environ: Mapping[str, str],
    var: Path,
    *,
    subscriptions_port: int,
    campaigns_port: int,
) -> dict[str, str]:
    """The environment of ``brevdue run``: the caller's, with development defaults filled in.

    Redis and SMTP are settled later (they depend on what gets started).
    """
    env = dict(environ)

    def default(name: str, value: str) -> None:
        if not env.get(PREFIX + name, "").strip():
            env[PREFIX + name] = value

    default("SECRET_KEYS", ensure_dev_secret(var))
    default("DATABASE_URL", f"sqlite+aiosqlite:///{var / 'brevdue.db'}")
    default("SUBSCRIPTIONS_PUBLIC_URL", f"http://127.0.0.1:{subscriptions_port}")
    default("CAMPAIGNS_PUBLIC_URL", f"http://127.0.0.1:{campaigns_port}")
    return env


def token_marker(var: Path) -> Path:
    """File whose presence means the first-run admin token was already shown."""
    return var / TOKEN_MARKER_FILE
