"""The shell of every long-running process: arguments, settings or exit 2, signals, the loop.

The mailer, the subscriptions worker and the bounces process differ only in what they serve;
the HTTP apps share the "settings from the environment or exit 2" step through ``from_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from shared.errors import SettingsError
from shared.logging import configure_logging
from shared.settings import Settings

OptionsT = TypeVar("OptionsT")  # a process's own options, next to the shared settings
T = TypeVar("T")

Serve = Callable[[Settings, OptionsT, asyncio.Event, bool], Awaitable[None]]


def load_or_exit(program: str, load: Callable[[], T]) -> T:
    """``load()``, or (on a SettingsError) one line on stderr and exit status 2."""
    try:
        return load()
    except SettingsError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def from_env(create_app: Callable[[Settings], T]) -> Callable[[], T]:
    """An app factory for ``uvicorn --factory``: settings from BREVDUE_* variables, or exit 2."""

    def create_app_from_env() -> T:
        return create_app(load_or_exit("brevdue", Settings.from_env))

    create_app_from_env.__doc__ = from_env.__doc__
    return create_app_from_env


def run_process(
    name: str,
    argv: Sequence[str] | None,
    serve: Serve[OptionsT],
    *,
    options: Callable[[], OptionsT],
    description: str | None = None,
    burst_help: str | None = None,
    fast_loop: bool = False,
) -> None:
    """Parse ``argv``, load settings and ``options`` (or exit 2), then serve until a signal.

    ``serve`` gets an event that SIGTERM or SIGINT sets, and whether ``--burst`` was given
    (only offered when ``burst_help`` says what it does).
    """
    parser = argparse.ArgumentParser(
        prog="brevdue-" + name.replace(" ", "-"), description=description
    )
    if burst_help is not None:
        parser.add_argument("--burst", action="store_true", help=burst_help)
    args = parser.parse_args(argv)
    settings, own = load_or_exit(f"brevdue {name}", lambda: (Settings.from_env(), options()))
    configure_logging(settings)
    main = _until_signal(serve, settings, own, burst=bool(getattr(args, "burst", False)))
    if fast_loop:
        try:
            import uvloop  # a faster event loop where available (Linux, macOS)
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def _until_signal(
    serve: Serve[OptionsT], settings: Settings, options: OptionsT, *, burst: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, options, stop, burst)
