"""The process shell: settings or exit 2 with one line, and the apps' factory from the env."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import SettingsError
from shared.process import from_env, load_or_exit, run_process
from shared.settings import Settings

KEY = "k" * 32


def _refuse() -> None:
    raise SettingsError("MAILER_BOUNCE_PORT", "or MAILER_WEBHOOK_PORT must be set")


async def _never(_settings: Settings, _options: object, _stop: asyncio.Event, _burst: bool) -> None:
    raise AssertionError("serve must not run without settings")


def test_bad_settings_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BREVDUE_SECRET_KEYS", raising=False)
    with pytest.raises(SystemExit) as exited:
        run_process("subscriptions worker", [], _never, options=lambda: None, burst_help="x")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("brevdue subscriptions worker: BREVDUE_SECRET_KEYS is required")
    assert err.count("\n") == 1


def test_bad_process_options_exit_2_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BREVDUE_SECRET_KEYS", KEY)
    with pytest.raises(SystemExit) as exited:
        run_process("bounces", [], _never, options=_refuse)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "brevdue bounces: BREVDUE_MAILER_BOUNCE_PORT or MAILER_WEBHOOK_PORT must be set\n"
    )


def test_burst_is_offered_only_to_workers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_process("bounces", ["--burst"], _never, options=lambda: None)
    assert exited.value.code == 2  # argparse: unrecognized arguments
    assert "usage: brevdue-bounces" in capsys.readouterr().err


def test_load_or_exit_passes_good_values_through() -> None:
    assert load_or_exit("brevdue", lambda: 42) == 42


def test_app_factory_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = from_env(lambda settings: settings.secret_keys[-1].reveal())
    monkeypatch.setenv("BREVDUE_SECRET_KEYS", "old" + KEY + "," + KEY)
    assert factory() == KEY
    monkeypatch.delenv("BREVDUE_SECRET_KEYS")
    with pytest.raises(SystemExit) as exited:
        factory()
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("brevdue: BREVDUE_SECRET_KEYS")
