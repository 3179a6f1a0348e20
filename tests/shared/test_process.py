"""The process shell: settings or exit 2 with one line, and the apps' factory from the env."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from litestar import Litestar
from litestar.datastructures import State

from shared.errors import SettingsError
from shared.process import YOUNG_GENERATION_THRESHOLD, from_env, load_or_exit, run_process
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
    factory = from_env(
        lambda settings: Litestar(route_handlers=[], state=State({"key": settings.secret_keys[-1]}))
    )
    monkeypatch.setenv("BREVDUE_SECRET_KEYS", "old" + KEY + "," + KEY)
    assert factory().state.key.reveal() == KEY
    monkeypatch.delenv("BREVDUE_SECRET_KEYS")
    with pytest.raises(SystemExit) as exited:
        factory()
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("brevdue: BREVDUE_SECRET_KEYS")


def test_a_served_app_settles_its_heap_once_started() -> None:
    """In a process of its own, as the app factory is only used where an app is served: the
    heap is frozen and young collections are rarer once the app has started, not before."""
    script = """
import asyncio, gc, os
from litestar import Litestar
from shared.process import YOUNG_GENERATION_THRESHOLD, from_env
app = from_env(lambda settings: Litestar(route_handlers=[]))()
before = (gc.get_freeze_count(), gc.get_threshold()[0])
async def start():
    async with app.lifespan():
        print(before, (gc.get_freeze_count() > 0, gc.get_threshold()[0]))
asyncio.run(start())
"""
    env = {**os.environ, "BREVDUE_SECRET_KEYS": KEY}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"(0, 700) (True, {YOUNG_GENERATION_THRESHOLD})"
